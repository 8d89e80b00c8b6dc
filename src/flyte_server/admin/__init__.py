"""The Connect services of the control plane, one module per flyteidl2 service.

Each service is thin: it checks what protovalidate cannot, then calls the store or the engine.
"""
