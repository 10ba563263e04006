/// <reference path="./interfaces/portico-plugin-config.d.ts" />
/// <reference path="./interfaces/portico-plugin-http-handler.d.ts" />
/// <reference path="./interfaces/portico-plugin-log.d.ts" />
/// <reference path="./interfaces/portico-plugin-presence.d.ts" />
/// <reference path="./interfaces/portico-plugin-sockets.d.ts" />
/// <reference path="./interfaces/portico-plugin-store.d.ts" />
/// <reference path="./interfaces/portico-plugin-types.d.ts" />
declare module 'portico:plugin/http-handler-plugin@0.2.0' {
  export type * as PorticoPluginConfig020 from 'portico:plugin/config@0.2.0'; // import portico:plugin/config@0.2.0
  export type * as PorticoPluginLog020 from 'portico:plugin/log@0.2.0'; // import portico:plugin/log@0.2.0
  export type * as PorticoPluginPresence020 from 'portico:plugin/presence@0.2.0'; // import portico:plugin/presence@0.2.0
  export type * as PorticoPluginSockets020 from 'portico:plugin/sockets@0.2.0'; // import portico:plugin/sockets@0.2.0
  export type * as PorticoPluginStore020 from 'portico:plugin/store@0.2.0'; // import portico:plugin/store@0.2.0
  export type * as PorticoPluginTypes020 from 'portico:plugin/types@0.2.0'; // import portico:plugin/types@0.2.0
  export * as httpHandler from 'portico:plugin/http-handler@0.2.0'; // export portico:plugin/http-handler@0.2.0
}
