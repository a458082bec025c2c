-- tests/wrk/count.lua: what wrk does not count, for the tests under load (test::Wrk in
-- tests/support.hpp). wrk reports a reset as a socket error, but a connection the server
-- closes under a request it simply reconnects (no error), and at the end of its run it
-- leaves the requests in flight unanswered. So this script counts every request it writes
-- and every response (by status, those saying Connection: close, by the "pid" member of the
-- body), and stops sending new requests once $WRK_QUIESCE_FILE exists: after a moment of
-- quiet, "sent" and "responses" are equal unless a request was lost. With
-- WRK_QUIESCE_ON_CLOSE=1 it also stops at the first response saying Connection: close (a
-- server stopping): wrk reconnects such a connection at once and, when nothing listens any
-- more, still calls request() before its write fails, which would count a request never sent.
-- One wrk thread (-t1): wrk calls request() once before the run to check it, which is not a
-- request sent.
local quiesce_file = os.getenv("WRK_QUIESCE_FILE")
local quiesce_on_close = os.getenv("WRK_QUIESCE_ON_CLOSE") == "1"
local quiesced = false
local req
local checked = false
sent, responses, closes, not_2xx = 0, 0, 0, 0
pids = {}

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  req = wrk.format()
end

-- Called before every request (wrk has a delay() hook): none once quiesced.
function delay()
  if quiesced then
    return 3600000
  end
  if quiesce_file then
    local f = io.open(quiesce_file, "r")
    if f then
      f:close()
      return 3600000
    end
  end
  return 0
end

function request()
  if checked then
    sent = sent + 1
  end
  checked = true
  return req
end

function response(status, headers, body)
  responses = responses + 1
  if status < 200 or status > 299 then
    not_2xx = not_2xx + 1
  end
  for name, value in pairs(headers) do
    if name:lower() == "connection" and value:lower() == "close" then
      closes = closes + 1
      quiesced = quiesced or quiesce_on_close
    end
  end
  local pid = body:match('"pid":(%d+)')
  if pid then
    pids[pid] = (pids[pid] or 0) + 1
  end
end

function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    io.write(string.format("lua: sent %d responses %d closes %d not_2xx %d\n",
                           t:get("sent"), t:get("responses"), t:get("closes"), t:get("not_2xx")))
    for pid, n in pairs(t:get("pids")) do
      io.write(string.format("lua: pid %s %d\n", pid, n))
    end
  end
end
