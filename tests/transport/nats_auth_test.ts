import assert from "node:assert/strict";
import { describeAuth, natsAuth, redactServers } from "../../src/transport/nats_auth.ts";

const env = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("natsAuth() takes flags first, then NATS_* variables, and refuses mixed ways", () => {
  assert.deepEqual(natsAuth({}, env({})), {});
  assert.deepEqual(
    natsAuth({}, env({ NATS_USER: "alice", NATS_PASS: "s3cret" })),
    { user: "alice", pass: "s3cret" },
  );
  assert.deepEqual(
    natsAuth({ "nats-user": "bob", "nats-pass": "pw" }, env({ NATS_USER: "a", NATS_PASS: "b" })),
    { user: "bob", pass: "pw" },
  );
  assert.deepEqual(natsAuth({}, env({ NATS_TOKEN: "tok" })), { token: "tok" });
  assert.deepEqual(natsAuth({ "nats-creds": "/x.creds" }, env({})), { credsFile: "/x.creds" });
  assert.deepEqual(natsAuth({}, env({ NATS_CREDS: "/y.creds", NATS_TOKEN: "" })), {
    credsFile: "/y.creds",
  });
  for (
    const [flags, vars] of [
      [{ "nats-token": "t" }, { NATS_CREDS: "/c" }],
      [{}, { NATS_USER: "u", NATS_PASS: "p", NATS_TOKEN: "t" }],
    ] as const
  ) {
    assert.throws(
      () => natsAuth(flags, env(vars)),
      (e: Error) =>
        e instanceof RangeError && /give one of/.test(e.message) && !/\bp\b|"t"/.test(e.message),
    );
  }
  assert.throws(() => natsAuth({}, env({ NATS_PASS: "s3cret" })), /a password only/);
  assert.throws(() => natsAuth({ "nats-user": "u" }, env({})), /a user only/);
  try {
    natsAuth({ "nats-pass": "s3cret" }, env({ NATS_TOKEN: "t0ken" }));
    assert.fail("mixed ways were accepted");
  } catch (error) {
    assert.ok(!/s3cret|t0ken/.test((error as Error).message), "a secret is in the message");
  }
});

Deno.test("redactServers() hides user, password and token in every URL, and nothing else", () => {
  assert.equal(redactServers("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
  assert.equal(redactServers("nats://alice:s3cret@host:4222"), "nats://***@host:4222");
  assert.equal(redactServers("tls://t0ken@host"), "tls://***@host");
  assert.equal(redactServers("alice:s3cret@host:4222"), "***@host:4222");
  assert.equal(
    redactServers("nats://a:4222, nats://u:p@b:4222"),
    "nats://a:4222,nats://***@b:4222",
  );
  assert.equal(redactServers(["nats://u:p%40x@h"]), "nats://***@h");
  assert.equal(redactServers("nats://u:p@ss@h:1/x@y"), "nats://***@h:1/x@y");
  assert.equal(describeAuth({ user: "alice", pass: "s3cret" }), "user alice");
  assert.equal(describeAuth({ token: "t0ken" }), "token");
});
