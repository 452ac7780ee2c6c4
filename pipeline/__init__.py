"""The PyFlink order pipeline, its alarms and dashboards as code, and the local alarm evaluator.

Pure per-record logic lives in plain modules (`orders`, `enrichment`, `logs`, `metrics`) that import no pyflink;
`job` wires them into a Flink DataStream job and is the only module that needs pyflink. `alarms`, `dashboards`
and `evaluator` describe and replay CloudWatch; `generator` writes realistic (optionally faulty) input.
To add a per-record check, put it in `orders` and call it from the matching operator in `operators`.
"""
