"""Calls an evently SOAP service with the stock zeep client.

Usage: python soap_client.py http://host:port/calc?wsdl

Loads the WSDL, calls Add and Divide through the SOAP 1.1 binding, Add and
a failing Divide through the SOAP 1.2 binding, and, when the service has
it, Echo with nested, optional and repeated fields; prints what it saw as
JSON. The service and port names are read from the WSDL (evently names the
ports `<Service>Soap` and `<Service>Soap12`). zeep hands back a response
with one child element as that child's value.
"""

import json
import sys

import zeep
from zeep.exceptions import Fault


def fault_of(call):
    try:
        call()
    except Fault as fault:
        return {"code": str(fault.code), "message": fault.message}
    raise SystemExit("expected a fault, the call succeeded")


def main():
    client = zeep.Client(sys.argv[1])
    service = next(iter(client.wsdl.services))
    soap11 = client.bind(service, service + "Soap")
    soap12 = client.bind(service, service + "Soap12")
    seen = {
        "add": soap11.Add(a=1, b=2),
        "divide": soap11.Divide(a=7, b=2),
        "fault": fault_of(lambda: soap11.Divide(a=1, b=0)),
        "add12": soap12.Add(a=5, b=7),
        "fault12": fault_of(lambda: soap12.Divide(a=1, b=0)),
    }
    operations = client.wsdl.services[service].ports[service + "Soap"].binding._operations
    if "Echo" in operations:
        echo = soap11.Echo(
            name="Ada", count=7, active=True, tags=["x", "y"], at={"x": 1.5, "y": -2.0}
        )
        seen["echo"] = {
            "greeting": echo.greeting,
            "count": echo.card.count,
            "active": echo.card.active,
            "tags": list(echo.card.tags),
            "at": {"x": echo.card.at.x, "y": echo.card.at.y},
        }
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
