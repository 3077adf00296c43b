from dagster import DynamicPartitionsDefinition

# One partition per marathon round id, added by the sensor that sees the round first.
rounds_partitions = DynamicPartitionsDefinition(name="marathon_round")
