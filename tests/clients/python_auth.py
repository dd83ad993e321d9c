"""Confluent's Python client (confluent-kafka) against a `stele serve` with authentication.

Usage: python python_auth.py REGISTRY_URL USER:PASSWORD READER:PASSWORD [CA_FILE]

With `basic.auth.user.info`, as producers configure it: the writer registers
and serializes/deserializes an Avro record; a reader may read but not
register (403, error code 40301); a wrong password gets 401. Exits non-zero on
the first failure.
"""

import sys
import uuid

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

URL, WRITER, READER = sys.argv[1], sys.argv[2], sys.argv[3]
CA = sys.argv[4] if len(sys.argv) > 4 else None
RUN = uuid.uuid4().hex[:8]


def client(user_info):
    config = {"url": URL, "basic.auth.user.info": user_info}
    if CA:
        config["ssl.ca.location"] = CA
    return SchemaRegistryClient(config)


def expect_error(code, call, what):
    try:
        call()
    except SchemaRegistryError as error:
        if error.error_code != code:
            raise AssertionError(f"{what}: expected {code}, got {error.error_code} {error.error_message}")
        return
    raise AssertionError(f"{what}: expected error {code}, got success")


ORDER = """{"type":"record","name":"Order","namespace":"com.example","fields":[
  {"name":"id","type":"string"},{"name":"amount","type":"long"}]}"""
topic = f"orders-{RUN}"
subject = f"{topic}-value"

writer = client(WRITER)
schema_id = writer.register_schema(subject, Schema(ORDER, "AVRO"))
assert schema_id > 0, "register returns an id"
serializer = AvroSerializer(writer, ORDER)
context = SerializationContext(topic, MessageField.VALUE)
payload = serializer({"id": "o-1", "amount": 42}, context)
assert payload[0] == 0 and int.from_bytes(payload[1:5], "big") == schema_id, "Confluent framing with the id"

reader = client(READER)
deserializer = AvroDeserializer(reader)
assert deserializer(payload, context) == {"id": "o-1", "amount": 42}, "round trip through a read-only principal"
expect_error(40301, lambda: reader.register_schema(subject, Schema(ORDER.replace("amount", "total"), "AVRO")), "reader registers")

user = WRITER.split(":", 1)[0]
expect_error(401, lambda: client(f"{user}:wrong").get_subjects(), "wrong password")
print(f"python auth client: ok (id {schema_id})")
