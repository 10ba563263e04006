/// <reference path="./interfaces/portico-plugin-config.d.ts" />
/// <reference path="./interfaces/portico-plugin-filter.d.ts" />
/// <reference path="./interfaces/portico-plugin-log.d.ts" />
/// <reference path="./interfaces/portico-plugin-socket.d.ts" />
/// <reference path="./interfaces/portico-plugin-types.d.ts" />
declare module 'portico:plugin/filter-plugin@0.2.0' {
  export type * as PorticoPluginConfig020 from 'portico:plugin/config@0.2.0'; // import portico:plugin/config@0.2.0
  export type * as PorticoPluginLog020 from 'portico:plugin/log@0.2.0'; // import portico:plugin/log@0.2.0
  export type * as PorticoPluginSocket020 from 'portico:plugin/socket@0.2.0'; // import portico:plugin/socket@0.2.0
  export type * as PorticoPluginTypes020 from 'portico:plugin/types@0.2.0'; // import portico:plugin/types@0.2.0
  export * as filter from 'portico:plugin/filter@0.2.0'; // export portico:plugin/filter@0.2.0
}
