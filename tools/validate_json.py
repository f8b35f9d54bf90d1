#!/usr/bin/env python3
"""Validate JSON files against a JSON Schema: tools/validate_json.py SCHEMA FILE...

Exit status 0 when every file is valid; otherwise each error is printed with the file and the path of
the field, and the status is 1. Used by the tests of the grader's reports.
"""
import json
import sys

import jsonschema


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        schema = json.load(f)
    validator = jsonschema.Draft202012Validator(schema)
    bad = 0
    for path in sys.argv[2:]:
        with open(path) as f:
            document = json.load(f)
        for error in validator.iter_errors(document):
            field = "/".join(str(p) for p in error.absolute_path) or "(top)"
            print(f"{path}: {field}: {error.message}", file=sys.stderr)
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
