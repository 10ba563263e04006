declare module 'portico:plugin/socket@0.2.0' {
  
  export class Socket implements Disposable {
    /**
     * This type does not have a public constructor.
     */
    private constructor();
    /**
    * The socket id; every socket is also in a room named by its id.
    */
    id(): string;
    /**
    * The namespace, like `/chat`.
    */
    namespace(): string;
    /**
    * The verified identity's claims as a JSON object, when the connection
    * authenticated.
    */
    userJson(): string | undefined;
    /**
    * The CONNECT packet's `auth` payload as JSON (`{}` when absent; Socket.IO's
    * `socket.handshake.auth`).
    */
    authJson(): string;
    /**
    * The headers of the HTTP request that opened the connection, names in lower
    * case (`socket.handshake.headers`).
    */
    headers(): Array<[string, string]>;
    /**
    * That request's raw query string, without the `?`.
    */
    query(): string;
    /**
    * The rooms the socket is in on this node, its own id's room included, as they
    * are when the call began (joins a call asks for apply after it returns).
    */
    rooms(): Array<string>;
    [Symbol.dispose](): void;
  }
}
