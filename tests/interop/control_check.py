#!/usr/bin/python3
"""Checks for the control API interop tests (Debian's python3-jsonschema, no pip).

  control_check.py schema OPENAPI NAME FILE   validate the JSON in FILE against
                                              #/components/schemas/NAME of the OpenAPI document
  control_check.py metrics FILE               check a /metrics scrape against the Prometheus text
                                              exposition format 0.0.4 and our naming rules
  control_check.py value FILE METRIC [LABELS] print one sample's value (LABELS: a=b,c=d)
Exit status 0 when the check passes; the reasons are printed otherwise.
"""
import json
import math
import re
import sys

import jsonschema


def check_schema(openapi_path, name, path):
    with open(openapi_path) as f:
        doc = json.load(f)
    with open(path) as f:
        instance = json.load(f)
    if name not in doc["components"]["schemas"]:
        print(f"no schema {name} in {openapi_path}")
        return 1
    resolver = jsonschema.RefResolver.from_schema(doc)
    validator = jsonschema.Draft202012Validator({"$ref": f"#/components/schemas/{name}"}, resolver=resolver)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
    for e in errors[:20]:
        print(f"{name}: at {'/'.join(str(p) for p in e.path) or '(root)'}: {e.message}")
    return 1 if errors else 0


# The text format, as documented (prometheus.io, "Exposition formats", text-based format 0.0.4).
METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}
# Units other than the base ones (seconds, bytes, bits) that must not appear in names.
NON_BASE_UNITS = re.compile(r"_(milliseconds|microseconds|nanoseconds|minutes|hours|ms|us|kb|kbytes|kilobytes|"
                            r"megabytes|mb|kbps|kbits|kbit|percent)(_|$)")


def parse_float(text):
    """Go's strconv.ParseFloat, which the format names: decimal or exponent forms, NaN, +Inf, -Inf."""
    if text in ("NaN", "+Inf", "-Inf", "Inf"):
        return float(text.replace("Inf", "inf"))
    if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
        raise ValueError(text)
    return float(text)


def parse_labels(text, pos, problems, lineno):
    """text[pos] == '{'. Returns (labels dict, position after '}')."""
    labels = {}
    pos += 1
    while True:
        if pos < len(text) and text[pos] == "}":
            return labels, pos + 1
        m = LABEL_NAME.match(text, pos)
        if not m:
            problems.append(f"line {lineno}: bad label name at column {pos + 1}")
            return labels, None
        name = m.group(0)
        if name.startswith("__"):
            problems.append(f"line {lineno}: label name {name} is reserved (starts with __)")
        pos = m.end()
        if text[pos:pos + 2] != '="':
            problems.append(f"line {lineno}: expected =\" after label {name}")
            return labels, None
        pos += 2
        value = []
        while True:
            if pos >= len(text):
                problems.append(f"line {lineno}: unterminated label value for {name}")
                return labels, None
            c = text[pos]
            if c == "\\":
                nxt = text[pos + 1:pos + 2]
                if nxt not in ("\\", '"', "n"):
                    problems.append(f"line {lineno}: label {name}: escape \\{nxt} is not \\\\, \\\" or \\n")
                value.append({"\\": "\\", '"': '"', "n": "\n"}.get(nxt, nxt))
                pos += 2
            elif c == '"':
                pos += 1
                break
            elif c == "\n":
                problems.append(f"line {lineno}: raw line feed in label value")
                return labels, None
            else:
                value.append(c)
                pos += 1
        if name in labels:
            problems.append(f"line {lineno}: label {name} repeated")
        labels[name] = "".join(value)
        if pos < len(text) and text[pos] == ",":
            pos += 1
            continue
        if pos < len(text) and text[pos] == "}":
            return labels, pos + 1
        problems.append(f"line {lineno}: expected , or }} after label {name}")
        return labels, None


def parse_scrape(text):
    problems = []
    families = {}      # name -> {"type", "help", "samples": [(labels, value)]}
    order = []         # family names in the order their samples appear
    samples_seen = set()
    current = None     # the family whose samples are being read
    closed = set()     # families whose group has ended
    if text and not text.endswith("\n"):
        problems.append("the last line does not end with a line feed")
    for lineno, line in enumerate(text.split("\n"), 1):
        if line.strip() == "":
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not METRIC_NAME.fullmatch(name):
                    problems.append(f"line {lineno}: bad metric name {name!r}")
                fam = families.setdefault(name, {"type": None, "help": None, "samples": []})
                if parts[1] == "TYPE":
                    t = parts[3].strip() if len(parts) > 3 else ""
                    if t not in TYPES:
                        problems.append(f"line {lineno}: TYPE {t!r} of {name} is not one of {sorted(TYPES)}")
                    if fam["type"] is not None:
                        problems.append(f"line {lineno}: a second TYPE line for {name}")
                    if fam["samples"]:
                        problems.append(f"line {lineno}: TYPE for {name} after its samples")
                    fam["type"] = t
                else:
                    if fam["help"] is not None:
                        problems.append(f"line {lineno}: a second HELP line for {name}")
                    doc = parts[3] if len(parts) > 3 else ""
                    if re.search(r"\\[^\\n]", doc.replace("\\\\", "")):
                        problems.append(f"line {lineno}: HELP of {name} has an escape other than \\\\ and \\n")
                    fam["help"] = doc
            continue
        m = METRIC_NAME.match(line)
        if not m:
            problems.append(f"line {lineno}: does not start with a metric name: {line[:60]!r}")
            continue
        name = m.group(0)
        pos = m.end()
        labels = {}
        if pos < len(line) and line[pos] == "{":
            labels, pos = parse_labels(line, pos, problems, lineno)
            if pos is None:
                continue
        rest = line[pos:]
        if not rest.startswith(" "):
            problems.append(f"line {lineno}: no blank between {name} and its value")
            continue
        fields = rest.split()
        if len(fields) not in (1, 2):
            problems.append(f"line {lineno}: expected a value and an optional timestamp, got {fields}")
            continue
        try:
            value = parse_float(fields[0])
        except ValueError:
            problems.append(f"line {lineno}: {fields[0]!r} is not a float")
            continue
        if len(fields) == 2 and not re.fullmatch(r"-?\d+", fields[1]):
            problems.append(f"line {lineno}: timestamp {fields[1]!r} is not an int64 of milliseconds")
        # A sample belongs to the family of its name (no histograms or summaries here).
        if name != current:
            if name in closed:
                problems.append(f"line {lineno}: samples of {name} are not in one group")
            if current is not None:
                closed.add(current)
            current = name
            order.append(name)
        key = (name, tuple(sorted(labels.items())))
        if key in samples_seen:
            problems.append(f"line {lineno}: sample {name}{labels} appears twice")
        samples_seen.add(key)
        fam = families.setdefault(name, {"type": None, "help": None, "samples": []})
        if fam["type"] is None:
            problems.append(f"line {lineno}: sample of {name} before (or without) its TYPE line")
        fam["samples"].append((labels, value))
    return families, problems


def check_metrics(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    families, problems = parse_scrape(text)
    for name, fam in families.items():
        # Our rules on top of the format's.
        if not name.startswith("asfcast_"):
            problems.append(f"{name}: not in the asfcast_ namespace")
        if fam["help"] is None or not fam["help"].strip():
            problems.append(f"{name}: no HELP text")
        if fam["type"] is None:
            problems.append(f"{name}: no TYPE line")
        if fam["type"] == "counter":
            if not name.endswith("_total"):
                problems.append(f"{name}: a counter whose name does not end in _total")
            for labels, value in fam["samples"]:
                if value < 0 or math.isnan(value):
                    problems.append(f"{name}{labels}: counter value {value}")
        elif name.endswith("_total"):
            problems.append(f"{name}: _total on a {fam['type']}")
        if NON_BASE_UNITS.search(name):
            problems.append(f"{name}: a unit that is not a base unit (use seconds, bytes)")
    for p in problems[:40]:
        print(p)
    if not problems:
        n = sum(len(f["samples"]) for f in families.values())
        print(f"{len(families)} families, {n} samples: valid text format 0.0.4")
    return 1 if problems else 0


def print_value(path, metric, labels_text):
    with open(path, encoding="utf-8") as f:
        families, _ = parse_scrape(f.read())
    want = dict(kv.split("=", 1) for kv in labels_text.split(",")) if labels_text else {}
    for labels, value in families.get(metric, {"samples": []})["samples"]:
        if all(labels.get(k) == v for k, v in want.items()):
            print(int(value) if value == int(value) else value)
            return 0
    print(f"no sample {metric}{want}", file=sys.stderr)
    return 1


def main(argv):
    if len(argv) >= 5 and argv[1] == "schema":
        return check_schema(argv[2], argv[3], argv[4])
    if len(argv) == 3 and argv[1] == "metrics":
        return check_metrics(argv[2])
    if len(argv) in (4, 5) and argv[1] == "value":
        return print_value(argv[2], argv[3], argv[4] if len(argv) == 5 else "")
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
