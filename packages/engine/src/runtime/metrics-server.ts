/**
 * The HTTP endpoint of an interface's Prometheus metrics (`metrics_addr`): `GET /metrics`
 * and nothing else, with bounded request size, time and connections, since it may listen
 * beyond loopback and answer anyone who reaches it.
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { isLoopback } from "../config/config.js";
import type { Logger } from "../log/log.js";
import { formatHostPort, type HostPort } from "../protocol/address.js";
import type { InterfaceMetrics } from "./metrics.js";

/** Options of {@link MetricsServer.listen}; the defaults suit a Prometheus scraper. */
export interface MetricsServerOptions {
  /** The longest a request may take to arrive, and a connection may stay idle; default 5 s. */
  readonly requestTimeoutMs?: number;
  /** The largest request line and headers, bytes; default 8 KiB. */
  readonly maxHeaderBytes?: number;
  /** Connections served at once; default 16. */
  readonly maxConnections?: number;
}

/**
 * The HTTP endpoint: `GET /metrics` only (405 for another method, 404 for another path,
 * 413 for a request with a body), with bounded request size, time and connections.
 */
export class MetricsServer {
  private constructor(
    private readonly server: Server,
    /** Where it listens (the port the kernel chose, if asked for 0). */
    readonly address: HostPort,
  ) {}

  static async listen(address: HostPort, metrics: InterfaceMetrics, logger: Logger, options: MetricsServerOptions = {}): Promise<MetricsServer> {
    const timeout = options.requestTimeoutMs ?? 5000;
    const server = createServer(
      {
        maxHeaderSize: options.maxHeaderBytes ?? 8192,
        requestTimeout: timeout,
        headersTimeout: timeout,
        keepAliveTimeout: timeout,
        // How often the two timeouts above are enforced (Node's default is 30 s).
        connectionsCheckingInterval: Math.min(1000, timeout),
      },
      (req, res) => answer(req, res, metrics, logger),
    );
    server.maxConnections = options.maxConnections ?? 16;
    server.maxRequestsPerSocket = 100;
    server.setTimeout(timeout); // idle sockets are destroyed
    await new Promise<void>((resolve, reject) => {
      server.once("error", (e: NodeJS.ErrnoException) =>
        reject(new Error(`cannot serve metrics on ${formatHostPort(address)}: ${e.code === "EADDRINUSE" ? "the address is in use" : e.code === "EADDRNOTAVAIL" ? "no interface has this address" : e.message}`)),
      );
      server.listen({ host: address.host, port: address.port, exclusive: true }, () => resolve());
    });
    server.on("error", (e) => logger.warn("metrics server error", { error: e.message }));
    server.on("clientError", (_e, socket) => socket.destroy());
    const bound = server.address();
    const actual = { host: address.host, port: typeof bound === "object" && bound ? bound.port : address.port };
    if (isLoopback(actual.host)) logger.info("metrics served", { url: `http://${formatHostPort(actual)}/metrics` });
    else logger.warn("metrics served beyond loopback: whoever reaches this address reads peer keys, names and endpoints", { url: `http://${formatHostPort(actual)}/metrics` });
    return new MetricsServer(server, actual);
  }

  /** Stops listening and ends every open connection. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

function answer(req: IncomingMessage, res: ServerResponse, metrics: InterfaceMetrics, logger: Logger): void {
  const path = (req.url ?? "").split("?")[0];
  const plain = (status: number, text: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff", ...headers });
    res.end(text);
  };
  if (path !== "/metrics") return plain(404, "not found: the metrics are at GET /metrics\n", { Connection: "close" });
  if (req.method !== "GET") return plain(405, "method not allowed: GET /metrics only\n", { Allow: "GET", Connection: "close" });
  const length = req.headers["content-length"];
  if (req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0")) {
    return plain(413, "a metrics request has no body\n", { Connection: "close" });
  }
  metrics.scrape().then(
    (text) => {
      res.writeHead(200, { "Content-Type": metrics.registry.contentType, "Cache-Control": "no-store" });
      res.end(text);
    },
    (e: Error) => {
      logger.warn("metrics scrape failed", { error: e.message });
      plain(500, "the metrics could not be read\n");
    },
  );
}
