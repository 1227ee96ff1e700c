"""The sandbox that runs a submission: wire protocol, isolation, limits, the client and the worker."""
