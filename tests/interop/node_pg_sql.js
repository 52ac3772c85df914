// Runs SQL statements in order on one PostgreSQL connection and prints each one's rows as a
// JSON line: how the Python fixtures of the PostgreSQL interop tests reach the database
// without a Python driver of their own.
//
// Usage: node node_pg_sql.js '<json>'   json: {postgres: "postgresql://...", sql: ["...", ...]}
// Exit status 0, or 1 with PostgreSQL's message on stderr.
"use strict";

const { Client } = require("pg");

async function main() {
  const spec = JSON.parse(process.argv[2]);
  const client = new Client({ connectionString: spec.postgres, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    for (const statement of spec.sql) {
      const result = await client.query(statement);
      process.stdout.write(JSON.stringify(result.rows || []) + "\n");
    }
  } finally {
    await client.end();
  }
}

main().catch((err) => {
  process.stderr.write(`${err && err.message}\n`);
  process.exit(1);
});
