// Drives `stele serve` with @kafkajs/confluent-schema-registry: register,
// encode and decode for AVRO, PROTOBUF and JSON.
// Usage: node js_client.js REGISTRY_URL
const { SchemaRegistry, SchemaType } = require('@kafkajs/confluent-schema-registry');

const url = process.argv[2];
const run = Math.random().toString(16).slice(2, 10);
const registry = new SchemaRegistry({ host: url });
let checks = 0;

function check(condition, what) {
  checks += 1;
  if (!condition) throw new Error(`failed: ${what}`);
}

async function roundTrip(type, schema, payload, subject) {
  const { id } = await registry.register({ type, schema }, { subject });
  check(Number.isInteger(id) && id > 0, `${type}: register returns an id`);
  const again = await registry.register({ type, schema }, { subject });
  check(again.id === id, `${type}: re-registration returns the same id`);
  const encoded = await registry.encode(id, payload);
  check(encoded[0] === 0 && encoded.readInt32BE(1) === id, `${type}: wire format carries the id`);
  const decoded = await registry.decode(encoded);
  check(JSON.stringify(decoded) === JSON.stringify(payload), `${type}: round trip (${JSON.stringify(decoded)})`);
  const latest = await registry.getLatestSchemaId(subject);
  check(latest === id, `${type}: latest schema id`);
}

(async () => {
  await roundTrip(
    SchemaType.AVRO,
    JSON.stringify({ type: 'record', name: 'Order', namespace: 'com.example', fields: [{ name: 'id', type: 'string' }, { name: 'amount', type: 'long' }] }),
    { id: 'o-1', amount: 42 },
    `js-${run}-orders-value`,
  );
  await roundTrip(
    SchemaType.PROTOBUF,
    `syntax = "proto3";\npackage js${run};\nmessage Payment {\n  string id = 1;\n  int32 cents = 2;\n}\n`,
    { id: 'p-1', cents: 1234 },
    `js-${run}-payments-value`,
  );
  await roundTrip(
    SchemaType.JSON,
    JSON.stringify({ type: 'object', properties: { id: { type: 'string' }, age: { type: 'integer' } }, required: ['id'] }),
    { id: 'u-1', age: 7 },
    `js-${run}-users-value`,
  );
  console.log(`js client: ${checks} passed, 0 failed`);
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
