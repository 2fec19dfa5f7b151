#include "inspect.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "asfcast/asfmux/asfmux.hpp"
#include "asfcast/drm/playready.hpp"

namespace asfcast::app {
namespace {

struct StreamStats {
    std::uint64_t payloads = 0;
    std::uint64_t objects = 0;     // payloads at offset 0
    std::uint64_t key_frames = 0;  // key-frame objects
    std::uint64_t bytes = 0;
    std::uint32_t first_pts = 0, last_pts = 0;
    bool any = false;
    bool first_key = false;  // the first media object is a key frame (a clean start)
};

const char* kind_name(MediaKind k) {
    return k == MediaKind::video ? "video" : k == MediaKind::audio ? "audio" : "command";
}

// A script command carried in a command stream payload (asfmux CommandStreamFormat).
struct StreamCommand {
    int stream = 0;
    std::uint32_t pts_ms = 0;  // with the preroll, as stored
    std::string type, parameter;
    bool encrypted = false;    // the stream is encrypted: the payload cannot be read here
};

std::string name_of(const asfmux::Guid& g) {
    static const std::pair<const char*, const char*> kNames[] = {
        {"6698B84E-0AFA-4330-AEB2-1C0A98D7A44D", "Encryption Sample ID"},
        {"399595EC-8667-4E2D-8FDB-98814CE76C1E", "Timecode"},
        {"E165EC0E-19ED-45D7-B4A7-25CBD1E28E9B", "File Name"},
        {"D590DC20-07BC-436C-9CF7-F3BBFBF1A4DC", "Content Type"},
        {"1B1EE554-F9EA-4BC8-821A-376B74E4C4B8", "Pixel Aspect Ratio"},
        {"C6BD9450-867F-4907-83A3-C77921B733AD", "Sample Duration"},
        {"F4637010-03C3-42CD-B932-B48ADF3A6A54", "PlayReady"}};
    const std::string text = asfmux::guid_to_string(g);
    for (const auto& [id, name] : kNames)
        if (text == id) return name;
    return text;
}

// What a Protection System Identifier Object says (PlayReady: a PlayReady Object holding the WRMHEADER).
nlohmann::json describe_protection(const asfmux::ProtectionSystemInfo& p) {
    nlohmann::json j{{"system_id", asfmux::guid_to_string(p.system_id)}, {"system", name_of(p.system_id)},
                     {"version", p.version}, {"data_bytes", p.data.size()}};
    if (name_of(p.system_id) != "PlayReady") return j;
    try {
        for (const auto& r : drm::playready::parse_playready_object(p.data)) {
            if (r.type != 1) {
                j["records"].push_back({{"type", r.type}, {"bytes", r.value.size()}});
                continue;
            }
            const std::string xml = drm::playready::utf16le_to_utf8(r.value);
            const auto sum = drm::playready::summarize_wrmheader(xml);
            j["records"].push_back({{"type", 1}, {"bytes", r.value.size()}});
            j["wrmheader"] = {{"version", sum.version}, {"kids", sum.kids}, {"algid", sum.algid},
                              {"checksum", sum.checksum}, {"la_url", sum.la_url}, {"xml", xml}};
        }
    } catch (const std::exception& e) {
        j["error"] = e.what();
    }
    return j;
}

}  // namespace

int inspect_file(const std::string& path, bool json) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        fmt::print(stderr, "asfcast inspect: cannot open '{}': {}\n", path, std::strerror(errno));
        return 1;
    }
    // The Header Object's size is at bytes 16..23; read it, then the header and the Data Object start.
    Bytes head(30);
    in.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(head.size()));
    if (in.gcount() < 30) {
        fmt::print(stderr, "asfcast inspect: '{}' is too short to be ASF ({} bytes)\n", path, in.gcount());
        return 1;
    }
    std::uint64_t header_size = 0;
    for (int i = 0; i < 8; ++i) header_size |= static_cast<std::uint64_t>(head[16 + i]) << (8 * i);
    if (header_size < 30 || header_size > (64u << 20)) {
        fmt::print(stderr, "asfcast inspect: '{}': not an ASF file (header size {})\n", path, header_size);
        return 1;
    }
    Bytes header(header_size + 50);
    in.seekg(0);
    in.read(reinterpret_cast<char*>(header.data()), static_cast<std::streamsize>(header.size()));
    header.resize(static_cast<std::size_t>(in.gcount()));

    asfmux::HeaderInfo info;
    try {
        info = asfmux::parse_header(header);
    } catch (const std::exception& e) {
        fmt::print(stderr, "asfcast inspect: '{}': {}\n", path, e.what());
        return 1;
    }

    std::map<int, StreamStats> per_stream;
    std::map<int, const asfmux::StreamInfo*> stream_info;
    for (const auto& s : info.streams) stream_info[s.number] = &s;
    std::vector<StreamCommand> stream_commands;
    std::uint64_t packets = 0, bad_packets = 0, padding = 0, multi = 0;
    std::uint32_t first_send = 0, last_send = 0;
    bool send_monotonic = true;
    std::vector<std::string> problems;
    const std::uint32_t psize = info.max_packet_size;
    if (psize == 0 || psize != info.min_packet_size) {
        problems.push_back(fmt::format("packet size not fixed (min {} max {})", info.min_packet_size, psize));
    } else {
        std::uint64_t limit = info.data_object_packets && !(info.flags & 1) ? info.data_object_packets : UINT64_MAX;
        Bytes pkt(psize);
        while (packets < limit && in.read(reinterpret_cast<char*>(pkt.data()), psize)) {
            try {
                auto p = asfmux::parse_packet(pkt, psize);
                if (packets == 0) first_send = p.send_time_ms;
                else if (p.send_time_ms < last_send) send_monotonic = false;
                last_send = p.send_time_ms;
                padding += p.padding;
                if (p.multiple_payloads) ++multi;
                for (auto& pl : p.payloads) {
                    if (auto it = stream_info.find(pl.stream); it != stream_info.end() &&
                        it->second->kind == MediaKind::command && pl.offset == 0 && !pl.compressed &&
                        stream_commands.size() < 100000) {
                        StreamCommand c;
                        c.stream = pl.stream;
                        c.pts_ms = pl.pts_ms;
                        c.encrypted = it->second->encrypted;
                        if (!c.encrypted && pl.length == pl.object_size) {
                            if (auto d = asfmux::decode_script_command(ByteView(pkt.data() + pl.data_at, pl.length))) {
                                c.type = d->first;
                                c.parameter = d->second;
                            } else {
                                c.type = "?";
                            }
                        }
                        stream_commands.push_back(std::move(c));
                    }
                    auto& s = per_stream[pl.stream];
                    ++s.payloads;
                    s.bytes += pl.length;
                    if (pl.offset == 0) {
                        ++s.objects;
                        if (pl.keyframe) ++s.key_frames;
                        if (!s.any) {
                            s.first_pts = pl.pts_ms;
                            s.first_key = pl.keyframe;
                        }
                        s.last_pts = std::max(s.last_pts, pl.pts_ms);
                        s.any = true;
                    }
                }
            } catch (const std::exception& e) {
                if (bad_packets++ < 5) problems.push_back(fmt::format("packet {}: {}", packets, e.what()));
            }
            ++packets;
        }
        if (in.gcount() > 0 && static_cast<std::uint32_t>(in.gcount()) < psize && packets < limit)
            problems.push_back(fmt::format("trailing partial packet of {} bytes", in.gcount()));
        // Top-level objects after the Data Object (Simple Index, Index): GUID + size each.
        if (limit != UINT64_MAX) {
            in.clear();
            std::uint64_t pos = header_size + 50 + limit * psize;
            // Simple Index Object GUID as stored on disk (ASF-notes §3).
            static const std::uint8_t kSimpleIndex[16] = {0x90, 0x08, 0x00, 0x33, 0xB1, 0xE5, 0xCF, 0x11,
                                                          0x89, 0xF4, 0x00, 0xA0, 0xC9, 0x03, 0x49, 0xCB};
            for (int n = 0; n < 64; ++n) {
                std::uint8_t obj[24];
                in.seekg(static_cast<std::streamoff>(pos));
                if (!in.read(reinterpret_cast<char*>(obj), 24)) break;
                std::uint64_t size = 0;
                for (int i = 0; i < 8; ++i) size |= static_cast<std::uint64_t>(obj[16 + i]) << (8 * i);
                if (size < 24) {
                    problems.push_back(fmt::format("object at {} has size {}", pos, size));
                    break;
                }
                asfmux::ObjectInfo o;
                std::copy(obj, obj + 16, o.guid.begin());
                o.name = std::equal(obj, obj + 16, kSimpleIndex) ? "Simple Index" : asfmux::guid_to_string(o.guid);
                o.offset = pos;
                o.size = size;
                info.objects.push_back(o);
                pos += size;
            }
        }
    }
    if (!send_monotonic) problems.push_back("send times go backwards");
    {
        std::uint32_t children = 0;  // objects directly in the Header Object
        for (auto& o : info.objects) children += o.depth == 1;
        if (children != info.header_object_count)
            problems.push_back(fmt::format("Number of Header Objects is {} but the Header Object holds {}",
                                           info.header_object_count, children));
    }
    if (bad_packets) problems.push_back(fmt::format("{} packets could not be parsed", bad_packets));

    if (json) {
        nlohmann::json j;
        j["file"] = path;
        j["file_id"] = asfmux::guid_to_string(info.file_id);
        j["header_size"] = info.header_size;
        j["flags"] = {{"broadcast", (info.flags & 1) != 0}, {"seekable", (info.flags & 2) != 0}};
        j["file_size"] = info.file_size;
        j["data_packets_declared"] = info.data_packets;
        j["play_duration_ms"] = info.play_duration_100ns / 10000;
        j["send_duration_ms"] = info.send_duration_100ns / 10000;
        j["preroll_ms"] = info.preroll_ms;
        j["min_packet_size"] = info.min_packet_size;
        j["max_packet_size"] = info.max_packet_size;
        j["max_bitrate"] = info.max_bitrate;
        j["title"] = info.metadata.title;
        j["author"] = info.metadata.author;
        j["copyright"] = info.metadata.copyright;
        j["codecs"] = info.codecs;
        j["header_object_count"] = info.header_object_count;
        j["mutual_exclusions"] = nlohmann::json::array();
        for (auto& g : info.mutual_exclusions) j["mutual_exclusions"].push_back({{"type", g.type}, {"streams", g.streams}});
        for (auto& o : info.objects)
            j["objects"].push_back({{"name", o.name}, {"offset", o.offset}, {"size", o.size}, {"depth", o.depth}});
        j["protection"] = nlohmann::json::array();
        for (const auto& p : info.protection_systems) j["protection"].push_back(describe_protection(p));
        j["script_commands"] = nlohmann::json::array();  // the header's Script Command Object
        for (const auto& c : info.script_commands)
            j["script_commands"].push_back({{"time_ms", c.time_ms}, {"pts_ms", c.time_ms - std::min<std::uint64_t>(c.time_ms, info.preroll_ms)},
                                            {"type", c.type}, {"parameter", c.name}});
        j["markers"] = nlohmann::json::array();
        for (const auto& m : info.markers)
            j["markers"].push_back({{"name", m.description}, {"time_100ns", m.time_100ns},
                                    {"pts_ms", m.time_100ns / 10000 - std::min<std::uint64_t>(m.time_100ns / 10000, info.preroll_ms)},
                                    {"offset", m.offset}, {"send_time_ms", m.send_time_ms}});
        j["stream_commands"] = nlohmann::json::array();  // script commands in command streams
        for (const auto& c : stream_commands) {
            nlohmann::json jc{{"stream", c.stream}, {"pts_ms", c.pts_ms - std::min<std::uint64_t>(c.pts_ms, info.preroll_ms)},
                              {"encrypted", c.encrypted}};
            if (!c.encrypted) {
                jc["type"] = c.type;
                jc["parameter"] = c.parameter;
            }
            j["stream_commands"].push_back(std::move(jc));
        }
        for (auto& s : info.streams) {
            nlohmann::json js{{"number", s.number}, {"type", kind_name(s.kind)}, {"bitrate", s.bitrate},
                              {"encrypted", s.encrypted},
                              {"extended_properties", s.has_extended_properties},
                              {"spread_error_correction", s.spread_error_correction}, {"name", s.name}};
            for (const auto& e : s.payload_extensions)
                js["payload_extensions"].push_back({{"system", name_of(e.id)}, {"id", asfmux::guid_to_string(e.id)},
                                                    {"data_size", e.data_size}});
            if (s.kind == MediaKind::command) {
            } else if (s.kind == MediaKind::video) {
                js["width"] = s.width;
                js["height"] = s.height;
                js["fourcc"] = s.fourcc;
            } else {
                js["format_tag"] = s.format_tag;
                js["channels"] = s.channels;
                js["sample_rate"] = s.sample_rate;
                js["avg_bytes_per_sec"] = s.avg_bytes_per_sec;
                js["block_align"] = s.block_align;
            }
            auto& st = per_stream[s.number];
            js["payloads"] = st.payloads;
            js["media_objects"] = st.objects;
            js["key_frames"] = st.key_frames;
            js["bytes"] = st.bytes;
            js["first_pts_ms"] = st.first_pts;
            js["first_object_key"] = st.first_key;
            js["last_pts_ms"] = st.last_pts;
            j["streams"].push_back(js);
        }
        j["packets"] = {{"count", packets}, {"multiple_payload", multi}, {"padding_bytes", padding},
                        {"first_send_ms", first_send}, {"last_send_ms", last_send},
                        {"send_times_monotonic", send_monotonic}};
        j["problems"] = problems;
        fmt::print("{}\n", j.dump(2));
    } else {
        fmt::print("{}\n", path);
        fmt::print("objects:\n");
        for (auto& o : info.objects)
            fmt::print("  {:>8}  {}{} ({} bytes)\n", o.offset, std::string(static_cast<std::size_t>(o.depth) * 2, ' '),
                       o.name, o.size);
        fmt::print("file: id {}  flags{}{}  preroll {} ms  packets {} x {} bytes  max bitrate {} bit/s\n",
                   asfmux::guid_to_string(info.file_id), info.flags & 1 ? " broadcast" : "",
                   info.flags & 2 ? " seekable" : "", info.preroll_ms, info.data_packets, info.max_packet_size,
                   info.max_bitrate);
        fmt::print("      play duration {:.3f} s  send duration {:.3f} s  file size {}\n",
                   info.play_duration_100ns / 1e7, info.send_duration_100ns / 1e7, info.file_size);
        if (!info.metadata.title.empty()) fmt::print("title: {}\n", info.metadata.title);
        if (!info.metadata.author.empty()) fmt::print("author: {}\n", info.metadata.author);
        if (!info.metadata.copyright.empty()) fmt::print("copyright: {}\n", info.metadata.copyright);
        fmt::print("streams:\n");
        for (auto& s : info.streams) {
            auto& st = per_stream[s.number];
            if (s.kind == MediaKind::command)
                fmt::print("  #{} command (script commands)  {} bit/s", s.number, s.bitrate);
            else if (s.kind == MediaKind::video)
                fmt::print("  #{} video {} {}x{}  {} bit/s", s.number, s.fourcc, s.width, s.height, s.bitrate);
            else
                fmt::print("  #{} audio tag 0x{:04X} {} ch {} Hz {} B/s align {}  {} bit/s", s.number, s.format_tag,
                           s.channels, s.sample_rate, s.avg_bytes_per_sec, s.block_align, s.bitrate);
            if (!s.name.empty()) fmt::print("  \"{}\"", s.name);
            if (s.encrypted) fmt::print("  ENCRYPTED");
            for (const auto& e : s.payload_extensions) fmt::print("  [ext {} {} B]", name_of(e.id), e.data_size);
            fmt::print("  | {} objects ({} key) in {} payloads, {} bytes, pts {}..{} ms\n", st.objects, st.key_frames,
                       st.payloads, st.bytes, st.first_pts, st.last_pts);
        }
        for (auto& g : info.mutual_exclusions)
            fmt::print("mutual exclusion ({}): streams {}\n", g.type, fmt::join(g.streams, ", "));
        for (const auto& p : info.protection_systems) {
            const nlohmann::json d = describe_protection(p);
            fmt::print("protection: {} (system {}, version {}), {} bytes of data\n", d["system"].get<std::string>(),
                       d["system_id"].get<std::string>(), p.version, p.data.size());
            if (d.contains("wrmheader")) {
                const auto& w = d["wrmheader"];
                fmt::print("  WRMHEADER {}  KID {}  ALGID {}  CHECKSUM {}\n  LA_URL {}\n", w["version"].get<std::string>(),
                           fmt::join(w["kids"].get<std::vector<std::string>>(), ", "), w["algid"].get<std::string>(),
                           w["checksum"].get<std::string>(), w["la_url"].get<std::string>());
            }
            if (d.contains("error")) fmt::print("  problem: {}\n", d["error"].get<std::string>());
        }
        const auto ms_text = [&](std::uint64_t ms_with_preroll) {
            const std::uint64_t ms = ms_with_preroll - std::min<std::uint64_t>(ms_with_preroll, info.preroll_ms);
            return fmt::format("{:02}:{:02}:{:02}.{:03}", ms / 3'600'000, ms / 60'000 % 60, ms / 1000 % 60, ms % 1000);
        };
        if (!info.script_commands.empty()) {
            fmt::print("script command object: {} commands, types {}\n", info.script_commands.size(),
                       fmt::join(info.script_command_types, ", "));
            for (const auto& c : info.script_commands)
                fmt::print("  {}  {} {}\n", ms_text(c.time_ms), c.type, c.name);
        }
        if (!info.markers.empty()) {
            fmt::print("markers: {}\n", info.markers.size());
            for (const auto& m : info.markers)
                fmt::print("  {}  \"{}\"  (offset {}, send {} ms)\n", ms_text(m.time_100ns / 10000), m.description, m.offset,
                           m.send_time_ms);
        }
        if (!stream_commands.empty()) {
            fmt::print("commands in command streams: {}\n", stream_commands.size());
            for (const auto& c : stream_commands) {
                if (c.encrypted) fmt::print("  #{} {}  (encrypted)\n", c.stream, ms_text(c.pts_ms));
                else fmt::print("  #{} {}  {} {}\n", c.stream, ms_text(c.pts_ms), c.type, c.parameter);
            }
        }
        fmt::print("packets: {} read ({} with multiple payloads), padding {} bytes, send {}..{} ms{}\n", packets,
                   multi, padding, first_send, last_send, send_monotonic ? "" : " (NOT monotonic)");
        for (auto& p : problems) fmt::print("problem: {}\n", p);
    }
    return bad_packets ? 1 : 0;
}

}  // namespace asfcast::app
