"""An AWS emulator for the EMR on EKS operator's tests.

moto provides the request parsing, the response shapes and the IAM, EKS and STS
models; this package adds what moto's emr-containers lacks (time-driven job runs,
per-job outcomes chosen by tags, clientToken idempotency, retry policies) and a
control API under ``/_emulator/`` for fault injection and a call log.
"""

MOTO_VERSION = "5.2.5"
