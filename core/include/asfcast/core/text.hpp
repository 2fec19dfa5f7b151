// Small text helpers shared by the parsers and writers of text formats (presets, caption files,
// the .asx and WRMHEADER XML).
#pragma once

#include <string>
#include <string_view>

namespace asfcast {

// Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
bool valid_utf8(std::string_view s);

// The five XML predefined entities (&amp; &lt; &gt; &quot; &apos;) for text and attribute values.
std::string xml_escape(std::string_view s);

}  // namespace asfcast
