// Node's `ws` echo server for tools/bench's WebSocket echo row: every message is sent back
// with its opcode (text or binary), as examples/websockets.cpp's /ws/echo does.
//   node bench/node/ws_echo.mjs PORT   (listens on 127.0.0.1, any path)
import { WebSocketServer } from "ws";

const port = Number(process.argv[2] || process.env.PORT);
const wss = new WebSocketServer({ host: "127.0.0.1", port, perMessageDeflate: false });
wss.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
});
wss.on("listening", () => console.log(`listening on 127.0.0.1:${port}`));
