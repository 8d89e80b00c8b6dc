"""Shared test infrastructure for the heavy suites: network namespaces, podman, base images, a registry.

One owner per piece, one instance per session (see ``tests/conftest.py`` for the fixtures):

* :mod:`infra.netns` — a network namespace with only ``lo`` up, so that Ray (which otherwise
  advertises the machine's external interface) binds loopback only;
* :mod:`infra.podman` — podman with this machine's ``containers.conf``, a Debian bookworm base image
  built once with ``debootstrap`` and cached, and a local registry (Debian's ``docker-registry``)
  on a loopback port.
"""
