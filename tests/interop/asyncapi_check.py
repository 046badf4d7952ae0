"""Validates a running evently service's AsyncAPI document against the
official AsyncAPI 3.0.0 JSON Schema (from the npm package @asyncapi/specs).

Usage: asyncapi_check.py SCHEMA_FILE URL
"""

import json
import sys
import urllib.request

import jsonschema


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as file:
        schema = json.load(file)
    with urllib.request.urlopen(sys.argv[2], timeout=10) as response:
        document = json.load(response)
    errors = sorted(
        jsonschema.Draft7Validator(schema).iter_errors(document),
        key=lambda error: list(error.path),
    )
    for error in errors:
        print(f"{'/'.join(map(str, error.path))}: {error.message[:300]}", file=sys.stderr)
    if errors:
        sys.exit(1)
    print(json.dumps({"channels": sorted(document["channels"])}))


if __name__ == "__main__":
    main()
