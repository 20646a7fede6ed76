#!/bin/bash
# kafka-broker-api-versions.sh: as Kafka's script of that name.
exec /opt/kafka/bin/kafka-run-class.sh org.apache.kafka.tools.BrokerApiVersionsCommand "$@"
