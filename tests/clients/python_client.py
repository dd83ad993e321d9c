"""Drives `stele serve` with Confluent's official Python client (confluent-kafka).

Usage: python python_client.py REGISTRY_URL

Covers the client API (register, lookup, versions, compatibility, config,
mode, deletes) and serializer/deserializer round trips for Avro, Protobuf and
JSON Schema, with references. Exits non-zero on the first failure.
"""

import sys
import uuid

from confluent_kafka.schema_registry import Schema, SchemaReference, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

URL = sys.argv[1]
RUN = uuid.uuid4().hex[:8]
client = SchemaRegistryClient({"url": URL})
checks = 0


def check(condition, what):
    global checks
    checks += 1
    if not condition:
        raise AssertionError(what)


def expect_error(code, call, what):
    try:
        call()
    except SchemaRegistryError as error:
        check(error.error_code == code, f"{what}: expected {code}, got {error.error_code} {error.error_message}")
        return
    raise AssertionError(f"{what}: expected error {code}, got success")


ORDER_V1 = """{"type":"record","name":"Order","namespace":"com.example","fields":[
  {"name":"id","type":"string"},{"name":"amount","type":"long"}]}"""
ORDER_V2 = """{"type":"record","name":"Order","namespace":"com.example","fields":[
  {"name":"id","type":"string"},{"name":"amount","type":"long"},{"name":"note","type":["null","string"],"default":null}]}"""
ORDER_BAD = """{"type":"record","name":"Order","namespace":"com.example","fields":[
  {"name":"id","type":"int"}]}"""

# ---- the client API ----
subject = f"py-{RUN}-orders-value"
id1 = client.register_schema(subject, Schema(ORDER_V1, "AVRO"))
check(id1 > 0, "register returns an id")
check(client.register_schema(subject, Schema(ORDER_V1, "AVRO")) == id1, "re-registration returns the same id")
registered = client.lookup_schema(subject, Schema(ORDER_V1, "AVRO"))
check(registered.schema_id == id1 and registered.version == 1, "lookup finds version 1")
check(client.get_schema(id1).schema_str.replace(" ", "").replace("\n", "") == ORDER_V1.replace(" ", "").replace("\n", ""), "get by id")
check(client.test_compatibility(subject, Schema(ORDER_V2, "AVRO")), "compatible change")
check(not client.test_compatibility(subject, Schema(ORDER_BAD, "AVRO")), "incompatible change")
expect_error(409, lambda: client.register_schema(subject, Schema(ORDER_BAD, "AVRO")), "incompatible registration")
id2 = client.register_schema(subject, Schema(ORDER_V2, "AVRO"))
check(client.get_versions(subject) == [1, 2], "versions")
latest = client.get_latest_version(subject)
check(latest.version == 2 and latest.schema_id == id2, "latest version")
check(client.get_version(subject, 1).schema_id == id1, "numbered version")
check(subject in client.get_subjects(), "subjects list")
check(client.set_compatibility(subject, "FULL")["compatibility"] == "FULL", "set subject compatibility")
check(client.get_compatibility(subject) == "FULL", "get subject compatibility")
check(client.get_compatibility() in ("BACKWARD", "NONE", "FULL", "FORWARD"), "global compatibility")
mode_subject = f"py-{RUN}-mode"
client.register_schema(mode_subject, Schema('"string"', "AVRO"))
check(client.update_mode(mode_subject, "READONLY") == "READONLY", "set subject mode")
check(client.get_mode(mode_subject) == "READONLY", "get subject mode")
expect_error(42205, lambda: client.register_schema(mode_subject, Schema('"int"', "AVRO")), "register in READONLY")
client.update_mode(mode_subject, "READWRITE")
check(client.delete_version(subject, 2) == 2, "soft delete a version")
check(client.get_versions(subject) == [1], "deleted version hidden")
check(client.delete_version(subject, 2, permanent=True) == 2, "permanent delete of a version")
check(client.delete_subject(subject) == [1], "soft delete a subject")
expect_error(40401, lambda: client.get_versions(subject), "soft-deleted subject is gone")
check(client.delete_subject(subject, permanent=True) == [1], "permanent delete of a subject")

# ---- Avro with a named type from another subject ----
address_subject = f"py-{RUN}-address"
ADDRESS = '{"type":"record","name":"Address","namespace":"com.example","fields":[{"name":"city","type":"string"}]}'
client.register_schema(address_subject, Schema(ADDRESS, "AVRO"))
CUSTOMER = '{"type":"record","name":"Customer","namespace":"com.example","fields":[{"name":"name","type":"string"},{"name":"address","type":"com.example.Address"}]}'
customer_subject = f"py-{RUN}-customer-value"
customer_id = client.register_schema(
    customer_subject, Schema(CUSTOMER, "AVRO", [SchemaReference("com.example.Address", address_subject, 1)])
)
ctx = SerializationContext(f"py-{RUN}-customer", MessageField.VALUE)
serializer = AvroSerializer(client, None, conf={"auto.register.schemas": False, "use.latest.version": True})
deserializer = AvroDeserializer(client)
customer = {"name": "Ada", "address": {"city": "London"}}
payload = serializer(customer, ctx)
check(payload[0] == 0 and int.from_bytes(payload[1:5], "big") == customer_id, "Avro wire format carries the id")
check(deserializer(payload, ctx) == customer, "Avro round trip with a reference")

# ---- Avro auto-registration ----
auto_ctx = SerializationContext(f"py-{RUN}-auto", MessageField.VALUE)
auto = AvroSerializer(client, ORDER_V1)
order = {"id": "o-1", "amount": 42}
check(AvroDeserializer(client)(auto(order, auto_ctx), auto_ctx) == order, "Avro auto-register round trip")
check(client.get_latest_version(f"py-{RUN}-auto-value").version == 1, "auto-registered under TopicNameStrategy")

# ---- JSON Schema ----
USER = '{"type":"object","properties":{"id":{"type":"string"},"age":{"type":"integer"}},"required":["id"]}'
json_ctx = SerializationContext(f"py-{RUN}-users", MessageField.VALUE)
json_serializer = JSONSerializer(USER, client)
json_deserializer = JSONDeserializer(USER, schema_registry_client=client)
user = {"id": "u-1", "age": 7}
check(json_deserializer(json_serializer(user, json_ctx), json_ctx) == user, "JSON Schema round trip")
check(client.get_latest_version(f"py-{RUN}-users-value").schema.schema_type == "JSON", "JSON Schema registered")

# ---- Protobuf, with an import the serializer registers itself ----
def build_message_class():
    pool = descriptor_pool.DescriptorPool()
    common = descriptor_pb2.FileDescriptorProto(name=f"py_{RUN}/common.proto", package=f"py{RUN}.common", syntax="proto3")
    money = common.message_type.add(name="Money")
    money.field.add(name="cents", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_INT64, label=1)
    money.field.add(name="currency", number=2, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING, label=1)
    main = descriptor_pb2.FileDescriptorProto(
        name=f"py_{RUN}/payment.proto", package=f"py{RUN}.payments", syntax="proto3", dependency=[common.name]
    )
    payment = main.message_type.add(name="Payment")
    payment.field.add(name="id", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING, label=1)
    payment.field.add(
        name="amount", number=2, type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE, label=1, type_name=f".py{RUN}.common.Money"
    )
    pool.Add(common)
    pool.Add(main)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"py{RUN}.payments.Payment"))


Payment = build_message_class()
proto_ctx = SerializationContext(f"py-{RUN}-payments", MessageField.VALUE)
proto_serializer = ProtobufSerializer(Payment, client, {"use.deprecated.format": False})
proto_deserializer = ProtobufDeserializer(Payment, {"use.deprecated.format": False})
message = Payment(id="p-1")
message.amount.cents = 1234
message.amount.currency = "EUR"
decoded = proto_deserializer(proto_serializer(message, proto_ctx), proto_ctx)
check(decoded == message, "Protobuf round trip")
check(f"py_{RUN}/common.proto" in client.get_subjects(), "the serializer registered the import under its own subject")
latest = client.get_latest_version(f"py-{RUN}-payments-value")
check(latest.schema.schema_type == "PROTOBUF" and len(latest.schema.references) == 1, "Protobuf schema with its reference")

print(f"python client: {checks} passed, 0 failed")
