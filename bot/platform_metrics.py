"""Where the platform's own CloudWatch metrics live: Amazon MSK (`AWS/Kafka`) and Firehose (`AWS/Firehose`).

The alarms (`pipeline.alarms`), `health` (lag), dashboards and the local simulation (`pipeline.infra`) all name
these metrics from here, so a local run writes exactly what AWS publishes in production:

- Consumer lag: `SumOffsetLag` (the group's offset lag summed over the topic's partitions; MSK `DEFAULT`
  level, dimensions `Cluster Name`, `Consumer Group`, `Topic`), Maximum per minute.
- Brokers alive: MSK publishes no broker count. Every broker reports `ActiveControllerCount` (1 on the
  controller, 0 elsewhere; dimension `Cluster Name`) once a minute, so its per-minute SampleCount is the number
  of brokers reporting: 3 when healthy, fewer when one is down (its Maximum only tells a controller exists).
  Check this once against the real cluster's `get-metric-statistics --statistics SampleCount`.
- Firehose delivery: `DeliveryToS3.Success` (successful S3 puts over all S3 puts; dimension
  `DeliveryStreamName`): below 1 in a minute means a delivery to S3 failed.
"""

from __future__ import annotations

Dims = tuple[tuple[str, str], ...]

KAFKA_NAMESPACE = "AWS/Kafka"
FIREHOSE_NAMESPACE = "AWS/Firehose"

MSK_CLUSTER = "orders-pipeline"
CONSUMER_GROUP = "orders-pipeline"  # the job's `set_group_id`
TOPIC = "orders.raw"
DELIVERY_STREAM = "orders-output"  # `ORDERS_SINK=firehose://orders`: the main output's stream

CONSUMER_LAG_METRIC = "SumOffsetLag"
CONSUMER_LAG_DIMENSIONS: Dims = (("Cluster Name", MSK_CLUSTER), ("Consumer Group", CONSUMER_GROUP), ("Topic", TOPIC))
BROKER_METRIC = "ActiveControllerCount"
BROKER_DIMENSIONS: Dims = (("Cluster Name", MSK_CLUSTER),)
FIREHOSE_METRIC = "DeliveryToS3.Success"
FIREHOSE_DIMENSIONS: Dims = (("DeliveryStreamName", DELIVERY_STREAM),)
