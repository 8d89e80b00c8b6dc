"""The task runtime: the ``a0`` entrypoint a control plane launches for each action attempt."""
