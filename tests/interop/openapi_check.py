"""Validates a running evently service's OpenAPI document with the stock
openapi-spec-validator, then prints what it holds as JSON.

Usage: openapi_check.py URL
"""

import json
import sys
import urllib.request

from openapi_spec_validator import validate


def main() -> None:
    with urllib.request.urlopen(sys.argv[1], timeout=10) as response:
        spec = json.load(response)
    validate(spec)
    operations = {
        f"{method.upper()} {path}": sorted(operation.get("responses", {}))
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    }
    print(json.dumps({"openapi": spec["openapi"], "operations": operations}))


if __name__ == "__main__":
    main()
