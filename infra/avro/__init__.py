"""Avro in the Confluent wire format: the codec, parsed schemas, the message mapping and decoded views."""
