// Proves the seed's pod from inside it: fetches http://127.0.0.1:80/ (the proxy, which asks the
// blog on 127.0.0.1:2368) until both are up and it gets the page, prints its title, and exits.
import { get } from 'node:http';

const url = process.env.VISIT_URL ?? 'http://127.0.0.1:80/';
const deadline = Date.now() + 10_000;

function visit() {
  get(url, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (c) => (body += c));
    res.on('end', () => {
      if (res.statusCode !== 200) return retry(`status ${res.statusCode}`);
      console.log(`visitor: ${url} -> ${res.statusCode} ${/<title>(.*)<\/title>/.exec(body)?.[1] ?? '(no title)'}`);
      process.exit(0);
    });
  }).on('error', (err) => retry(err.message));
}

// The containers start in order but are not ready in order: the proxy may answer before the blog.
function retry(why) {
  if (Date.now() > deadline) {
    console.error(`visitor: ${url}: ${why}`);
    process.exit(1);
  }
  setTimeout(visit, 100);
}
visit();
