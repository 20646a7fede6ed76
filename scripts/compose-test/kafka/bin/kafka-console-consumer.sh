#!/bin/bash
# kafka-console-consumer.sh: as Kafka's script of that name.
exec /opt/kafka/bin/kafka-run-class.sh org.apache.kafka.tools.consumer.ConsoleConsumer "$@"
