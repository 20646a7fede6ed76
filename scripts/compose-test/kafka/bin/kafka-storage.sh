#!/bin/bash
# kafka-storage.sh: as Kafka's script of that name.
exec /opt/kafka/bin/kafka-run-class.sh kafka.tools.StorageTool "$@"
