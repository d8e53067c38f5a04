// Drives lwm2m-node-lib's LwM2M client (an implementation we did not write) for the tests.
// Usage: node node_client.js HOST PORT ENDPOINT
// Prints one JSON object per line for what happens; reads commands on stdin:
//   set OBJECT_URI RESOURCE VALUE | update | unregister | quit
'use strict';

const coap = require('coap');
const readline = require('readline');
const client = require('lwm2m-node-lib').client;

// Without these, the CoAP library silently drops requests in LwM2M content formats.
for (const [name, code] of [['application/vnd.oma.lwm2m+tlv', 11542], ['application/vnd.oma.lwm2m+json', 11543],
                            ['application/senml+json', 110], ['application/senml+cbor', 112],
                            ['application/vnd.oma.lwm2m+cbor', 11544]]) {
  coap.registerFormat(name, code);
}

const [host, port, endpoint] = process.argv.slice(2);
const say = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
let device = null;

client.init({
  client: { lifetime: '60', version: '1.0', logLevel: 'FATAL', observe: { period: 3000 },
            ipProtocol: 'udp4', serverProtocol: 'udp4' },
  logLevel: 'FATAL',
});

function createObjects(done) {
  client.registry.create('/3/0', (e1) => {
    client.registry.setResource('/3/0', '0', 'Telefonica Node', () => {
      client.registry.setResource('/3/0', '9', '87', () => {
        client.registry.create('/3303/0', () => {
          client.registry.setResource('/3303/0', '5700', '19.5', () => {
            client.registry.create('/3311/0', () => {
              client.registry.setResource('/3311/0', '5850', '0', () => done(e1));
            });
          });
        });
      });
    });
  });
}

createObjects(() => {
  client.register(host, port, null, endpoint, (error, info) => {
    if (error) { say({ event: 'error', message: String(error) }); process.exit(1); }
    device = info;
    client.setHandler(info.serverInfo, 'write', (type, id, resource, value, cb) => {
      say({ event: 'write', path: `/${type}/${id}/${resource}`, value: String(value) });
      cb(null);
    });
    client.setHandler(info.serverInfo, 'execute', (type, id, resource, args, cb) => {
      say({ event: 'execute', path: `/${type}/${id}/${resource}`, args: args ? String(args) : '' });
      cb(null);
    });
    say({ event: 'registered', location: info.location, port: info.localPort });
  });
});

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, ...args] = line.trim().split(' ');
  if (cmd === 'set') {
    client.registry.setResource(args[0], args[1], args[2], (e) => say({ event: 'set', error: e ? String(e) : null }));
  } else if (cmd === 'update') {
    client.update(device, (e) => say({ event: 'updated', error: e ? String(e) : null }));
  } else if (cmd === 'unregister') {
    client.unregister(device, (e) => say({ event: 'unregistered', error: e ? String(e) : null }));
  } else if (cmd === 'quit') {
    process.exit(0);
  }
});
