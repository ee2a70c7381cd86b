// dynalite-server.js: runs dynalite's command line (its cli.js, the first
// argument; the rest are dynalite's own) and keeps the server up when a
// client aborts a request. dynalite rethrows a request stream's error
// (index.js: req.on('error', function (err) { throw err })), so a single
// HTTP request cancelled mid-flight, which the tests do on purpose, ended
// the whole server and failed every DynamoDB test after it.
'use strict'

const cli = process.argv[2]
process.argv.splice(2, 1)

process.on('uncaughtException', (err) => {
  if (err && err.code === 'ECONNRESET') {
    console.error('dynalite-server: a client aborted a request (' + err.message + '); serving on')
    return
  }
  console.error(err)
  process.exit(1)
})

require(cli)
