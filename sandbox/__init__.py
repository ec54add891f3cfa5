"""hubnox's local stack: HubSpot and Fortnox simulators, a local API Gateway and local AWS.

Never deployed. `python -m sandbox up|hubspot|fortnox|demo` runs it (see `sandbox/__main__.py`).
"""
