// A stock Connect client for Node (@connectrpc/connect-node) calling the
// daemon, for test_connect_node.py.  The schema is a FileDescriptorSet of
// proto/ read at run time (@bufbuild/protobuf's registry), so the
// messages are protobuf-es's own, not ours.
//
// usage: node connect_client.mjs BASE_URL DESCRIPTOR_SET SERVICE METHOD
//            json|binary REQUEST_JSON [MAX_MESSAGES]
// Prints each response message as one line of proto3 JSON; a ConnectError
// as {"error": {"code": NAME, "message": ...}} with exit status 3.
import { readFileSync } from "node:fs";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createFileRegistry, fromBinary, fromJson, toJson } from
    "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

const [baseUrl, setPath, serviceName, methodName, codec, requestJson,
       max] = process.argv.slice(2);
const registry = createFileRegistry(
    fromBinary(FileDescriptorSetSchema, readFileSync(setPath)));
const service = registry.getService(serviceName);
const method = service.methods.find((m) => m.name === methodName);
const transport = createConnectTransport({
  baseUrl, httpVersion: "2", useBinaryFormat: codec === "binary",
});
const client = createClient(service, transport);
const request = fromJson(method.input, JSON.parse(requestJson), { registry });
const print = (m) => console.log(JSON.stringify(
    toJson(method.output, m, { registry })));

try {
  if (method.methodKind === "server_streaming") {
    const abort = new AbortController();
    let n = 0;
    for await (const m of client[method.localName](request,
                                                    { signal: abort.signal })) {
      print(m);
      if (max && ++n >= Number(max)) {
        abort.abort();          // the client cancels the stream
        break;
      }
    }
  } else {
    print(await client[method.localName](request));
  }
} catch (e) {
  const err = ConnectError.from(e);
  if (err.code === Code.Canceled && max) {
    process.exit(0);
  }
  console.log(JSON.stringify({ error: { code: Code[err.code],
                                        message: err.rawMessage } }));
  process.exit(3);
}
