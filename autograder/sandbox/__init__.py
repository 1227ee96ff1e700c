"""The sandbox that runs a submission, one module per job:

- protocol.py: the wire protocol (frames, request ids, operation and tensor names); the only
  module both sides import, so it holds no grading logic.
- isolation.py: how the worker is kept apart (bwrap, uid, process) and its uid.
- limits.py: what the worker may use (time, memory, tasks, output) and killing all it started.
- cgroups.py: a control group per sandbox, where one can be made: memory (shared memory and
  tmpfs included) and tasks capped by the kernel.
- client.py: the trusted side, class Sandbox; WORKER_FILES and the rule for what is copied in.
- integrity.py: the trusted side's tampering flags (the source scan, /proc), for a person.
- worker.py, probe.py: copied into the sandbox; the untrusted side and what train() runs on.
"""
