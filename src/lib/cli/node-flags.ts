/** Flags shared by `swarm node ls|drain|activate`: where the manager is and how to reach it. */
import { Args, Flags } from '@oclif/core';

export const nodeArg = Args.string({ name: 'node', description: 'Node name (as docker info shows it), engine ID or host:port', required: true });

export const managerFlags = {
  host: Flags.string({
    char: 'H',
    summary: 'Manager to talk to: tcp://host:port, host:port or unix:///path (default $DOCKER_HOST, else tcp://127.0.0.1:2375).',
  }),
  tls: Flags.boolean({ summary: 'Use TLS (with --tlscert/--tlskey when the manager verifies clients).' }),
  tlsverify: Flags.boolean({ summary: 'Use TLS and verify the manager against --tlscacert.' }),
  tlscacert: Flags.string({ summary: 'CA certificate that signed the manager\'s certificate.' }),
  tlscert: Flags.string({ summary: 'Client certificate.' }),
  tlskey: Flags.string({ summary: 'Private key of --tlscert.' }),
};
