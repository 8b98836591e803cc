"""Drives the web UI at /ui/ in headless Chromium (selenium) against a running cluster.

Usage: python ui_browser.py '<json>' where the JSON names
  url        the UI's server, e.g. http://127.30.5.2:4646
  mgmt, ro   a management token's and a read-only token's secret IDs
  victim     the name of a follower to kill (gossip name, e.g. s3.global), and
  victim_pid its process ID (SIGKILL, a process the calling test started)
  shots      the directory for screenshots; downloads: where Chromium saves files
Exits 0 printing one JSON line of what it measured; any failed step exits non-zero with
the reason (and a screenshot named failure-*.png).
"""
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

ARGS = json.loads(sys.argv[1])
URL = ARGS["url"].rstrip("/")
SHOTS = ARGS["shots"]
DOWNLOADS = ARGS["downloads"]
os.makedirs(SHOTS, exist_ok=True)
os.makedirs(DOWNLOADS, exist_ok=True)
WIDE, NARROW = (1280, 900), (390, 844)
PAGES = ["servers", "charts", "autopilot", "scheduler", "variables", "snapshots", "acl", "license", "token"]
figures = {}


def api(method, path, token, body=None):
    """A direct API call (not through the browser): (status, parsed body or text)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(URL + path, data=data, method=method, headers={"X-Nomad-Token": token})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, text = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--disable-dev-shm-usage", f"--user-data-dir={ARGS['profile']}",
              f"--window-size={WIDE[0]},{WIDE[1]}"]:
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    opts.add_experimental_option("prefs", {"download.default_directory": DOWNLOADS,
                                           "download.prompt_for_download": False})
    d = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=opts)
    d.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": DOWNLOADS})
    d.set_page_load_timeout(30)
    return d


driver = browser()
console = []


def drain_console():
    console.extend(driver.get_log("browser"))


def wait(what, cond, timeout=20.0):
    """Polls cond() every 100 ms for at most `timeout` seconds; returns its first truthy value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            v = cond()
            if v:
                return v
        except Exception as e:  # the page is being re-rendered under us; look again
            last = e
        time.sleep(0.1)
    fail(f"timed out after {timeout}s waiting for {what} (last error: {last!r})")


def fail(why):
    try:
        driver.save_screenshot(os.path.join(SHOTS, f"failure-{int(time.time())}.png"))
        drain_console()
        print("browser log:", json.dumps(console, indent=1), file=sys.stderr)
        print("page:", driver.find_element(By.ID, "main").text[:3000], file=sys.stderr)
    finally:
        driver.quit()
    sys.exit(f"FAILED: {why}")


def check(cond, why):
    if not cond:
        fail(why)


def q(css):
    return driver.find_elements(By.CSS_SELECTOR, css)


def one(css, timeout=20.0):
    return wait(css, lambda: (q(css) or [None])[0], timeout)


def go(page):
    driver.get(f"{URL}/ui/#/{page}")
    # A hash-only change does not reload the document: force the route to render anew.
    driver.refresh()
    wait(f"page {page} rendered", lambda: "Loading" not in driver.find_element(By.ID, "main").text)


def shot(name):
    driver.save_screenshot(os.path.join(SHOTS, f"{name}.png"))


def set_token(secret):
    go("token")
    box = one("[data-test=token-input]")
    box.clear()
    box.send_keys(secret)
    one("[data-test=token-save]").click()
    wait("token accepted", lambda: secret[:8] and "Accessor ID" in one("[data-test=token-info]").text)


def set_check(css, want):
    box = one(css)
    if box.is_selected() != want:
        box.click()


def unlabelled_controls():
    """Form controls without an accessible name (label[for], aria-label or aria-labelledby)."""
    return driver.execute_script("""
      return [...document.querySelectorAll('input, select, textarea')].filter((c) => {
        if (c.type === 'hidden') return false;
        if (c.getAttribute('aria-label') || c.getAttribute('aria-labelledby')) return false;
        return !(c.id && document.querySelector(`label[for="${c.id}"]`));
      }).map((c) => c.outerHTML);""")


def contrast_failures():
    """Text whose colour against its effective background is under 4.5:1 (WCAG AA)."""
    return driver.execute_script("""
      const lum = (rgb) => { const [r, g, b] = rgb.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
      const parse = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
      const bg = (el) => { for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor); if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3); } return [255, 255, 255]; };
      const out = [];
      for (const el of document.querySelectorAll('body *')) {
        if (!el.offsetParent && el.tagName !== 'BODY') continue;
        if (![...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
        if (el.closest('svg')) continue;
        const fg = parse(getComputedStyle(el).color).slice(0, 3);
        const [a, b] = [lum(fg), lum(bg(el))].sort((x, y) => y - x);
        const ratio = (a + 0.05) / (b + 0.05);
        if (ratio < 4.5 && !el.disabled) out.push(`${el.tagName}.${el.className} "${el.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
      }
      return out;""")


def a11y(page):
    bad = unlabelled_controls()
    check(not bad, f"{page}: controls without a label: {bad}")
    low = contrast_failures()
    check(not low, f"{page}: text under 4.5:1 contrast: {low}")


# 1. No token: Nomad's "Not Authorized" panel, with a link to the token page.
go("servers")
panel = one("[data-test=not-authorized]")
check("Not Authorized" in panel.text, panel.text)
check(q("[data-test=not-authorized] a[href='#/token']"), "no link to the token page")
shot("not-authorized-1280")

# Keyboard: the first Tab lands on the skip link, which moves focus to the content.
driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
check(driver.switch_to.active_element.get_attribute("id") == "skip-link", "first Tab is not the skip link")
driver.switch_to.active_element.send_keys(Keys.ENTER)
check(driver.switch_to.active_element.get_attribute("id") == "main", "skip link did not move focus to main")

# 2. A management token: three servers, one leader, all healthy.
set_token(ARGS["mgmt"])
go("servers")
wait("all servers healthy and a leader", lambda: len(q("tr[data-server][data-health=healthy]")) == ARGS.get("servers", 3)
     and len(q("tr[data-server][data-leader=true]")) == 1)
leader = q("tr[data-server][data-leader=true]")[0].get_attribute("data-server")
check(one("[data-test=leader]").text == leader, "leader summary disagrees with the table")
a11y("servers")
shot("servers-1280")

# 3. Kill a follower: its row turns red (unhealthy) within seconds.
victim = ARGS.get("victim")
if victim:
    check(victim != leader, f"victim {victim} is the leader")
    os.kill(int(ARGS["victim_pid"]), signal.SIGKILL)
    killed = time.monotonic()
    wait(f"{victim} shown unhealthy", lambda: q(f"tr[data-server='{victim}'][data-health=unhealthy].bad"), 30)
    figures["red_after_kill_s"] = round(time.monotonic() - killed, 2)
    check("Unhealthy" in driver.find_element(By.ID, "status").text, "status line did not announce it")
    shot("servers-follower-down-1280")

# 4. Charts: four SVG charts with lines.
go("charts")
wait("4 charts with data", lambda: len(q("figure.chart")) == 4 and len(q("figure.chart polyline")) >= 3, 30)
# Writes while the page samples: the writes-per-second chart rises above zero.
started = time.monotonic()
for i in range(60):
    status, _ = api("PUT", f"/v1/var/ui/load/{i}", ARGS["mgmt"], {"Items": {"n": str(i)}})
    check(status == 200, f"write {i}: {status}")
    time.sleep(0.08)
wait("writes per second above zero", lambda: float(q("figure.chart")[1].get_attribute("data-max") or 0) > 0, 15)
figures["charted_writes_per_s"] = round(float(q("figure.chart")[1].get_attribute("data-max")), 1)
a11y("charts")
shot("charts-under-writes-1280")

# 5. Scheduler configuration: edit, then a stale edit conflicts and shows both versions.
go("scheduler")
index0 = int(one("[data-test=modify-index]").text)
Select(one("select[name=SchedulerAlgorithm]")).select_by_value("spread")
set_check("input[name=MemoryOversubscriptionEnabled]", True)
set_check("input[name=RejectJobRegistration]", False)
one("[data-test=save]").click()
wait("scheduler saved", lambda: int(one("[data-test=modify-index]").text) > index0)
status, cfg = api("GET", "/v1/operator/scheduler/configuration", ARGS["mgmt"])
check(cfg["SchedulerConfig"]["SchedulerAlgorithm"] == "spread"
      and cfg["SchedulerConfig"]["MemoryOversubscriptionEnabled"] is True, f"not saved: {cfg}")
index1 = int(one("[data-test=modify-index]").text)
a11y("scheduler")
# Someone else saves meanwhile (through the API, with the version the page shows).
theirs = dict(cfg["SchedulerConfig"], SchedulerAlgorithm="binpack", RejectJobRegistration=False)
status, ans = api("PUT", f"/v1/operator/scheduler/configuration?cas={index1}", ARGS["mgmt"], theirs)
check(status == 200 and ans["Updated"] is True, f"concurrent save: {status} {ans}")
set_check("input[name=RejectJobRegistration]", True)
one("[data-test=save]").click()
conflict = one("[data-test=conflict]")
mine, current = one("[data-test=conflict-mine]").text, one("[data-test=conflict-current]").text
check('"SchedulerAlgorithm": "spread"' in mine and '"RejectJobRegistration": true' in mine, mine)
check('"SchedulerAlgorithm": "binpack"' in current and '"RejectJobRegistration": false' in current, current)
status, cfg = api("GET", "/v1/operator/scheduler/configuration", ARGS["mgmt"])
check(cfg["SchedulerConfig"]["RejectJobRegistration"] is False, "a stale edit was applied")
shot("scheduler-conflict-1280")

# 6. Autopilot configuration: an edit saved with CAS.
go("autopilot")
index0 = int(one("[data-test=modify-index]").text)
box = one("input[name=MaxTrailingLogs]")
box.clear()
box.send_keys("321")
one("[data-test=save]").click()
wait("autopilot saved", lambda: int(one("[data-test=modify-index]").text) > index0)
status, ap = api("GET", "/v1/operator/autopilot/configuration", ARGS["mgmt"])
check(ap["MaxTrailingLogs"] == 321, f"autopilot not saved: {ap}")
a11y("autopilot")
shot("autopilot-1280")

# 7. Variables: create, edit (CAS), delete.
driver.get(f"{URL}/ui/#/variable?ns=default&new=1")
driver.refresh()
one("[data-test=var-path]").send_keys("ui/test")
one("[data-test=item-key]").send_keys("color")
one("[data-test=item-value]").send_keys("blue")
one("[data-test=var-save]").click()
wait("created variable page", lambda: "path=ui%2Ftest" in driver.current_url and q("[data-test=modify-index]"))
status, v = api("GET", "/v1/var/ui/test", ARGS["mgmt"])
check(status == 200 and v["Items"] == {"color": "blue"}, f"create: {status} {v}")
idx = int(one("[data-test=modify-index]").text)
val = one("[data-test=item-value]")
val.clear()
val.send_keys("green")
one("[data-test=var-save]").click()
wait("edited", lambda: int(one("[data-test=modify-index]").text) > idx)
status, v = api("GET", "/v1/var/ui/test", ARGS["mgmt"])
check(v["Items"] == {"color": "green"}, f"edit: {v}")
# A stale edit: someone writes after the page loaded; saving shows theirs beside yours.
status, _ = api("PUT", f"/v1/var/ui/test?cas={v['ModifyIndex']}", ARGS["mgmt"], {"Items": {"color": "red"}})
check(status == 200, f"concurrent variable write: {status}")
val = one("[data-test=item-value]")
val.clear()
val.send_keys("purple")
one("[data-test=var-save]").click()
one("[data-test=conflict]")
check('"color": "purple"' in one("[data-test=conflict-mine]").text, "conflict does not show mine")
check('"color": "red"' in one("[data-test=conflict-current]").text, "conflict does not show theirs")
status, v = api("GET", "/v1/var/ui/test", ARGS["mgmt"])
check(v["Items"] == {"color": "red"}, f"a stale variable edit was applied: {v}")
shot("variable-conflict-1280")
one("[data-test=conflict] button").click()
wait("current version loaded", lambda: one("[data-test=item-value]").get_attribute("value") == "red")
a11y("variable")
shot("variable-1280")
go("variables?ns=default&prefix=ui")
one("tr[data-var='ui/test']")
shot("variables-1280")
one("tr[data-var='ui/test'] a").click()
one("[data-test=var-delete]").click()
one("[data-test=var-delete-confirm]").click()
wait("deleted", lambda: "#/variables" in driver.current_url)
status, _ = api("GET", "/v1/var/ui/test", ARGS["mgmt"])
check(status == 404, f"variable still there: {status}")

# 8. Snapshots: download one, change the state, restore it after the confirmation.
status, _ = api("PUT", "/v1/var/ui/keep", ARGS["mgmt"], {"Items": {"kept": "yes"}})
check(status == 200, f"seed variable: {status}")
go("snapshots")
# The schedule box reports this server's snapshot { } schedule (none in this cluster).
off = one("[data-test=schedule-off]")
check("no" in off.text and "snapshot" in off.text, off.text)
before = set(os.listdir(DOWNLOADS))
one("[data-test=snapshot-save]").click()
one("[data-test=save-ok]", 60)
snap = wait("downloaded .snap file", lambda: [f for f in set(os.listdir(DOWNLOADS)) - before
                                               if f.endswith(".snap")], 60)[0]
path = os.path.join(DOWNLOADS, snap)
figures["snapshot_bytes"] = os.path.getsize(path)
check(snap.startswith("nomad-state-"), snap)
status, _ = api("DELETE", "/v1/var/ui/keep", ARGS["mgmt"])
check(status in (200, 204), f"delete seed: {status}")
one("[data-test=snapshot-file]").send_keys(path)
confirm = one("[data-test=snapshot-confirm]")
check("Raft index" in confirm.text and "Variables" in confirm.text and snap in confirm.text, confirm.text)
a11y("snapshots")
shot("snapshot-confirm-1280")
one("[data-test=snapshot-restore-confirm]").click()
one("[data-test=restore-ok]", 60)
status, v = api("GET", "/v1/var/ui/keep", ARGS["mgmt"])
check(status == 200 and v["Items"] == {"kept": "yes"}, f"restore did not bring ui/keep back: {status} {v}")

# 9. ACL and license pages.
go("acl")
one("tr[data-token]")
check(not one("[data-test=token-create]").get_attribute("disabled"), "management token cannot create tokens")
a11y("acl")
go("license")
one("[data-test=days-left]")
# The cluster runs on the temporary license, which ends within hours: the warning shows.
check(q("[data-test=license-warning]"), "no warning for a license near its end")
a11y("license")

# 10. Every page at both widths; at 390 px the navigation folds behind a Menu button.
for width, height in (WIDE, NARROW):
    driver.set_window_size(width, height)
    for page in PAGES:
        go(page)
        time.sleep(0.3 if page != "charts" else 2.5)  # let the first poll draw
        shot(f"{page}-{width}")
driver.set_window_size(*NARROW)
go("servers")
nav = driver.find_element(By.ID, "nav")
check(not nav.is_displayed(), "navigation not folded at 390 px")
one("#nav-toggle").click()
check(nav.is_displayed(), "Menu does not open the navigation")
check(driver.execute_script("return document.documentElement.scrollWidth") <= NARROW[0] + 1,
      "the page scrolls sideways at 390 px")
driver.set_window_size(*WIDE)

# 11. A read-only token: every edit control disabled, and the server refuses anyway.
set_token(ARGS["ro"])
go("scheduler")
one("[data-test=read-only]")
check(one("[data-test=save]").get_attribute("disabled") is not None, "save enabled for a read-only token")
check(all(e.get_attribute("disabled") is not None for e in q("[data-test=config-form] input, [data-test=config-form] select")),
      "scheduler inputs enabled for a read-only token")
shot("scheduler-read-only-1280")
go("autopilot")
check(one("[data-test=save]").get_attribute("disabled") is not None, "autopilot save enabled")
go("variables")
check(one("[data-test=var-create]").get_attribute("disabled") is not None, "create variable enabled")
go("snapshots")
check(one("[data-test=snapshot-file]").get_attribute("disabled") is not None, "restore enabled")
go("acl")
one("[data-test=not-authorized]")
shot("acl-read-only-1280")
go("servers")
# (Autopilot may have removed the killed server by now: compare with what the API says.)
wait("servers listed from autopilot health", lambda: len(q("tr[data-server]"))
     == len(api("GET", "/v1/operator/autopilot/health", ARGS["ro"])[1]["Servers"]))
check(q("[data-test=raft-config-refused]"), "no note that the raft configuration was refused")
status, body = api("PUT", "/v1/operator/scheduler/configuration", ARGS["ro"], {"SchedulerAlgorithm": "spread"})
check(status == 403, f"read-only scheduler write answered {status} {body}")
figures["read_only_write_status"] = status

# 12. No console errors. Chromium logs each non-2xx fetch as a network error; the refusals
# this run provokes on purpose (403, a 429 health answer with a server down) are expected.
drain_console()
unexpected = [e for e in console if e["level"] == "SEVERE" and not (
    e.get("source") == "network" and "/v1/" in e["message"]
    and any(f"status of {c}" in e["message"] for c in (403, 409, 429))
    or "/v1/acl/token/self" in e["message"] and "status of 400" in e["message"])]
driver.quit()
if unexpected:
    sys.exit(f"FAILED: console errors: {json.dumps(unexpected, indent=1)}")
figures["console_entries"] = len(console)
figures["screenshots"] = len([f for f in os.listdir(SHOTS) if f.endswith(".png")])
print(json.dumps(figures))
