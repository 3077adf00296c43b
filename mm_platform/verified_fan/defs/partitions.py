from dagster import DynamicPartitionsDefinition

# One partition per Verified Fan campaign, added by the sensor that sees a file's part for it first.
campaigns_partitions = DynamicPartitionsDefinition(name="verified_fan_campaign")
