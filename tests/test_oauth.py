"""The OAuth install for several workspaces, end to end: through /slack/install and
/slack/oauth_redirect, each workspace's requests and reminders with its own token, tokens
revoked or removed with the app, and the tokens unreadable in the database without the key."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
import yaml
from cryptography.fernet import Fernet, InvalidToken
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from bot.app import create_client, create_sweeper, create_workspaces, weekly_post
from bot.config import Settings
from bot.demo import listeners_finished
from bot.domain.clock import FixedClock
from bot.domain.document import CorrectiveAction
from bot.slackdev import SlackDriver, SlackStandin
from bot.workspaces import BOT_SCOPES
from storage.models import InstallationRow
from storage.store import Store
from tests.conftest import SIGNING_SECRET
from tests.test_cli import _exit, _health, _run, _run_env, _until

CLIENT_ID, CLIENT_SECRET, STATE_SECRET = "1111.2222", "oauth-client-secret", "oauth-state-secret"
KEY, NEW_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()
TEAM_A, TEAM_B, TEAM_ORG, ORG = "T0ACME0001", "T0BETA0001", "T0GRID0001", "E0GRID0001"
ALICE, BOB, CAROL = "U0ALICEA1", "U0BOBBB1", "U0CAROLC1"
CHANNEL_A, CHANNEL_B = "C0ACMEINC", "C0BETAINC"
STATE_COOKIE = "slack-app-oauth-state"


@pytest.fixture
def settings(standin: SlackStandin, database_url: str) -> Settings:
    """OAuth mode: no SLACK_BOT_TOKEN, the app's credentials, and a key for the tokens."""
    standin.oauth_app(CLIENT_ID, CLIENT_SECRET)
    return Settings(
        slack_client_id=CLIENT_ID,
        slack_client_secret=CLIENT_SECRET,
        slack_state_secret=STATE_SECRET,
        token_encryption_key=KEY,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=standin.api_url,
        database_url=database_url,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture(autouse=True)
def workspaces(standin: SlackStandin) -> None:
    for team, user, channel in ((TEAM_A, ALICE, CHANNEL_A), (TEAM_B, BOB, CHANNEL_B)):
        standin.add_workspace(team)
        standin.add_user(user, team_id=team, tz="Europe/London")
        standin.add_channel(channel, team)


@pytest.fixture
async def browser() -> AsyncIterator[aiohttp.ClientSession]:
    """Cookies by hand: Bolt marks the state cookie Secure, and the test server is plain HTTP."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        yield session


async def start_install(browser: aiohttp.ClientSession, app_url: str) -> str:
    """Open /slack/install: the state in the "Add to Slack" link, also set as the browser's cookie."""
    async with browser.get(app_url + "/slack/install") as page:
        assert page.status == 200
        link = html.unescape(re.search(r'href="(https://slack.com/oauth/v2/authorize[^"]+)"', await page.text())[1])
        cookie = page.cookies[STATE_COOKIE].value
    state = re.search(r"[?&]state=([^&]+)", link)[1]
    assert state == cookie and f"client_id={CLIENT_ID}" in link
    return state


async def finish_install(
    browser: aiohttp.ClientSession, app_url: str, state: str, code: str, cookie: str | None = None
) -> int:
    """Slack sends the browser back with the code and the state."""
    headers = {"Cookie": f"{STATE_COOKIE}={cookie or state}"}
    params = {"code": code, "state": state}
    async with browser.get(app_url + "/slack/oauth_redirect", params=params, headers=headers) as page:
        return page.status


async def install(browser: aiohttp.ClientSession, app_url: str, standin: SlackStandin, team: str, user: str) -> str:
    """The whole install, as a person of ``team`` clicks through it; the token Slack issued."""
    state = await start_install(browser, app_url)
    assert await finish_install(browser, app_url, state, standin.authorize(team, user, client_id=CLIENT_ID)) == 200
    token = standin.workspace(team).bot_token
    assert token is not None
    return token


@pytest.fixture
async def tokens(browser: aiohttp.ClientSession, app_url: str, standin: SlackStandin) -> tuple[str, str]:
    """Both workspaces installed through the redirect flow: A's token, B's token."""
    token_a = await install(browser, app_url, standin, TEAM_A, ALICE)
    return token_a, await install(browser, app_url, standin, TEAM_B, BOB)


@pytest.fixture
async def overdue(store: Store) -> None:
    """Alice in A and Bob in B each own an action a week overdue."""
    await _seed(store, TEAM_A, CHANNEL_A, ALICE)
    await _seed(store, TEAM_B, CHANNEL_B, BOB)


def tokens_since(standin: SlackStandin, first: int) -> set[str | None]:
    return {c.token for c in standin.calls[first:] if c.method != "oauth.v2.access"}


async def test_two_workspaces_each_use_their_own_token_on_every_call(
    tokens: tuple[str, str], standin: SlackStandin, slack: SlackDriver
) -> None:
    token_a, token_b = tokens
    assert token_a != token_b
    for team, user, channel, token in ((TEAM_A, ALICE, CHANNEL_A, token_a), (TEAM_B, BOB, CHANNEL_B, token_b)):
        first = len(standin.calls)
        with standin.acting_as(team):
            assert (await slack.command(f"start inc-{team}", user=user, channel=channel)).status == 200
        await standin.wait_until(lambda c=channel: standin.messages(c))
        await listeners_finished()
        assert standin.current_view(user) is not None  # the section 1 modal opened
        assert f"inc-{team}" in str(standin.messages(channel)[0]["blocks"])
        assert tokens_since(standin, first) == {token}


async def test_an_org_wide_install_serves_its_workspaces_requests_and_reminders(
    browser: aiohttp.ClientSession,
    app_url: str,
    standin: SlackStandin,
    slack: SlackDriver,
    store: Store,
    settings: Settings,
) -> None:
    """Enterprise Grid, as slack_bolt defines it: an org-wide install belongs to no workspace."""
    standin.add_workspace(TEAM_ORG, enterprise_id=ORG)
    standin.add_user(CAROL, team_id=TEAM_ORG, tz="Europe/London")
    standin.add_channel("C0ORGINC01", TEAM_ORG)
    state = await start_install(browser, app_url)
    code = standin.authorize(TEAM_ORG, CAROL, client_id=CLIENT_ID, org_wide=True)
    assert await finish_install(browser, app_url, state, code) == 200
    token = standin.workspace(TEAM_ORG).bot_token
    assert await _installed_teams(store) == [""]  # the org's, found by the org's id
    with standin.acting_as(TEAM_ORG):
        await slack.command("start inc-org", user=CAROL, channel="C0ORGINC01")
    await standin.wait_until(lambda: standin.messages("C0ORGINC01"))
    await listeners_finished()
    record = await store.by_channel(TEAM_ORG, "C0ORGINC01")
    assert record is not None
    overdue = store.clock.now().date() - timedelta(days=7)
    await store.save_action(record.id, CorrectiveAction(action="Fix", kind="other", owner=CAROL, due=overdue), CAROL)
    assert (await create_sweeper(settings, store).sweep()).messages == 1
    assert _dms(standin) == {CAROL: {token}}
    assert {c.token for c in standin.calls if c.method != "oauth.v2.access"} == {token}


async def test_a_forged_or_replayed_state_is_refused(
    browser: aiohttp.ClientSession, app_url: str, standin: SlackStandin, store: Store
) -> None:
    state = await start_install(browser, app_url)
    code = standin.authorize(TEAM_A, ALICE, client_id=CLIENT_ID)
    forged = state[:-4] + ("AAAA" if not state.endswith("AAAA") else "BBBB")
    assert await finish_install(browser, app_url, forged, code) >= 400  # the browser carries the forged one too
    assert await finish_install(browser, app_url, state, code, cookie="another-browser") >= 400
    assert standin.calls_to("oauth.v2.access") == []

    assert await finish_install(browser, app_url, state, code) == 200
    again = standin.authorize(TEAM_B, BOB, client_id=CLIENT_ID)
    assert await finish_install(browser, app_url, state, again) >= 400  # the state was used
    assert len(standin.calls_to("oauth.v2.access")) == 1
    assert await _installed_teams(store) == [TEAM_A]


async def test_a_state_expires_on_the_apps_clock(
    browser: aiohttp.ClientSession, app_url: str, standin: SlackStandin, clock: FixedClock, store: Store
) -> None:
    state = await start_install(browser, app_url)
    clock.set(clock.now() + timedelta(minutes=11))
    assert await finish_install(browser, app_url, state, standin.authorize(TEAM_A, ALICE, client_id=CLIENT_ID)) >= 400
    assert await _installed_teams(store) == []


async def _installed_teams(store: Store) -> list[str]:
    async with store.engine.connect() as connection:
        return sorted((await connection.scalars(select(InstallationRow.team_id))).all())


async def _seed(store: Store, team: str, channel: str, owner: str) -> None:
    """A postmortem of ``team`` with an action of ``owner`` a week overdue."""
    record, _ = await store.open_postmortem(team, channel, owner, f"inc-{team}")
    overdue = store.clock.now().date() - timedelta(days=7)
    await store.save_action(record.id, CorrectiveAction(action="Fix it", kind="other", owner=owner, due=overdue), owner)


def _dms(standin: SlackStandin) -> dict[str, set[str | None]]:
    """Per recipient, the tokens their reminder DMs were sent with."""
    sent: dict[str, set[str | None]] = {}
    for call in standin.calls_to("chat.postMessage"):
        if call.response and call.response.get("ok") and str(call.params["channel"]).startswith("U"):
            sent.setdefault(str(call.params["channel"]), set()).add(call.token)
    return sent


async def test_the_sweep_reminds_each_workspace_with_its_own_token(
    tokens: tuple[str, str], overdue: None, standin: SlackStandin, store: Store, settings: Settings
) -> None:
    token_a, token_b = tokens
    report = await create_sweeper(settings, store).sweep()
    assert report.messages == 2
    assert _dms(standin) == {ALICE: {token_a}, BOB: {token_b}}
    assert {c.token for c in standin.calls_to("users.info") if c.params["user"] == ALICE} == {token_a}


async def test_a_revoked_workspace_gets_no_reminders_and_keeps_its_postmortems(
    tokens: tuple[str, str], overdue: None, standin: SlackStandin, slack: SlackDriver, store: Store, settings: Settings
) -> None:
    token_a, token_b = tokens
    with standin.acting_as(TEAM_B):
        assert (await slack.tokens_revoked()).status == 200
    await listeners_finished()
    first = len(standin.calls)
    report = await create_sweeper(settings, store).sweep()
    assert _dms(standin) == {ALICE: {token_a}} and report.messages == 1
    assert token_b not in tokens_since(standin, first)
    assert await store.by_incident(f"inc-{TEAM_B}", TEAM_B) is not None


async def test_an_uninstalled_workspace_loses_its_tokens(
    tokens: tuple[str, str], standin: SlackStandin, store: Store, slack: SlackDriver
) -> None:
    with standin.acting_as(TEAM_A):
        assert (await slack.app_uninstalled()).status == 200
    await listeners_finished()
    assert await _installed_teams(store) == [TEAM_B]


async def test_a_token_slack_revoked_unannounced_holds_up_no_other_workspace(
    tokens: tuple[str, str], overdue: None, standin: SlackStandin, store: Store, settings: Settings
) -> None:
    token_a, _ = tokens
    standin.uninstall(TEAM_B)  # its app_uninstalled event never arrived
    report = await create_sweeper(settings, store).sweep()
    assert _dms(standin) == {ALICE: {token_a}} and report.messages == 1
    assert report.failed == 1  # Bob's, refused with token_revoked: the next sweep tries again


async def test_one_workspaces_rate_limit_holds_up_no_other_workspace(
    tokens: tuple[str, str], standin: SlackStandin, store: Store, settings: Settings
) -> None:
    """Slack's limits are per workspace: B's 429 pauses B's DMs for its Retry-After, not A's."""
    token_a, _ = tokens
    await _seed(store, TEAM_B, CHANNEL_B, BOB)
    standin.fail_next("chat.postMessage", status=429, retry_after=3600, team_id=TEAM_B)
    sweeper = create_sweeper(settings, store)
    paused = asyncio.create_task(sweeper.sweep())  # B's digest waits an hour to be sent again
    await standin.wait_until(lambda: standin.calls_to("chat.postMessage"))
    await _seed(store, TEAM_A, CHANNEL_A, ALICE)
    second = asyncio.create_task(sweeper.sweep())
    try:
        await standin.wait_until(second.done)
    finally:
        paused.cancel()
        second.cancel()
    assert _dms(standin) == {ALICE: {token_a}}


async def test_tokens_are_unreadable_in_the_database_without_the_key(
    browser: aiohttp.ClientSession, app_url: str, standin: SlackStandin, store: Store
) -> None:
    token = await install(browser, app_url, standin, TEAM_A, ALICE)
    async with store.engine.connect() as connection:
        row = (await connection.execute(select(InstallationRow.__table__))).one()
    assert token not in repr(tuple(row)) and token.split("-", 2)[-1] not in repr(tuple(row))
    with pytest.raises(InvalidToken):
        Fernet(NEW_KEY.encode()).decrypt(row.bot_token.encode())
    assert Fernet(KEY.encode()).decrypt(row.bot_token.encode()).decode() == token


async def test_a_new_key_first_reads_old_tokens_and_rewrites_them_under_itself(
    tokens: tuple[str, str], standin: SlackStandin, store: Store, settings: Settings
) -> None:
    token_a, token_b = tokens
    await _seed(store, TEAM_A, CHANNEL_A, ALICE)
    rotated = settings.model_copy(update={"token_encryption_key": f"{NEW_KEY},{KEY}"})
    assert (await create_sweeper(rotated, store).sweep()).messages == 1  # read under the old key, as it is used
    assert _dms(standin) == {ALICE: {token_a}}
    assert await create_workspaces(rotated, store).installations.rekey() == 1  # the rest, as `run` starts: B's
    only_new = create_workspaces(settings.model_copy(update={"token_encryption_key": NEW_KEY}), store)
    for team, token in ((TEAM_A, token_a), (TEAM_B, token_b)):
        bot = await only_new.installations.bot_for_team(team)
        assert bot is not None and bot.bot_token == token


def test_an_install_asks_for_the_manifests_scopes_and_comes_back_to_its_redirect_url() -> None:
    manifest = yaml.safe_load((Path(__file__).parent.parent / "manifest.yml").read_text())
    assert list(BOT_SCOPES) == manifest["oauth_config"]["scopes"]["bot"]
    redirects = manifest["oauth_config"]["redirect_urls"]
    assert len(redirects) == 1 and redirects[0].endswith("/slack/oauth_redirect")


async def test_the_standin_keeps_each_token_to_its_own_workspace(standin: SlackStandin) -> None:
    standin.oauth_app(CLIENT_ID, CLIENT_SECRET)
    oauth = AsyncWebClient(base_url=standin.api_url)
    code = standin.authorize(TEAM_A, ALICE, client_id=CLIENT_ID)
    with pytest.raises(SlackApiError, match="bad_client_secret"):
        await oauth.oauth_v2_access(client_id=CLIENT_ID, client_secret="guessed", code=code)
    granted = await oauth.oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code)
    assert granted["team"]["id"] == TEAM_A and granted["authed_user"]["id"] == ALICE
    with pytest.raises(SlackApiError, match="code_already_used"):
        await oauth.oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code)

    acme = AsyncWebClient(token=granted["access_token"], base_url=standin.api_url)
    assert (await acme.auth_test())["team_id"] == TEAM_A
    assert (await acme.chat_postMessage(channel=CHANNEL_A, text="hi"))["ok"]
    for call, error in (
        (acme.chat_postMessage(channel=CHANNEL_B, text="hi"), "channel_not_found"),
        (acme.users_info(user=BOB), "user_not_found"),
        (acme.chat_postMessage(channel=BOB, text="hi"), "channel_not_found"),
        (acme.chat_postMessage(channel="C0INCIDENT", text="hi"), "channel_not_found"),  # the default workspace's
    ):
        with pytest.raises(SlackApiError, match=error):
            await call
    default = AsyncWebClient(token=standin.bot_token, base_url=standin.api_url)
    assert (await default.auth_test())["team_id"] == standin.team_id != TEAM_A
    with pytest.raises(SlackApiError, match="channel_not_found"):
        await default.chat_postMessage(channel=CHANNEL_A, text="hi")

    standin.uninstall(TEAM_A)
    with pytest.raises(SlackApiError, match="token_revoked"):
        await acme.auth_test()


async def test_run_serves_the_install_pages_with_no_bot_token(standin: SlackStandin, tmp_path: Path) -> None:
    """`postmortem-bot run` in OAuth mode: no token to check with auth.test; api.test says Slack answers."""
    env = _run_env(tmp_path, standin.api_url, "", SLACK_CLIENT_ID=CLIENT_ID, SLACK_CLIENT_SECRET=CLIENT_SECRET)
    del env["SLACK_BOT_TOKEN"]
    env |= {"SLACK_STATE_SECRET": STATE_SECRET, "TOKEN_ENCRYPTION_KEY": f"{NEW_KEY},{KEY}"}
    process = await _run(env)
    try:
        health = await _until(lambda: _health(env["PORT"]), lambda health: health[0] == 200)
        assert health == (200, {"ok": True, "database": "up", "slack": "up"})
        async with aiohttp.ClientSession() as browser:
            state = await start_install(browser, f"http://127.0.0.1:{env['PORT']}")
        assert state
    finally:
        stderr = await _exit(process, stop=True)
    assert process.returncode == 0, stderr
    assert standin.calls_to("auth.test") == [] and standin.calls_to("api.test")


async def test_each_workspace_gets_its_weekly_insights_post_with_its_own_token(
    tokens: tuple[str, str], overdue: None, standin: SlackStandin, store: Store, settings: Settings
) -> None:
    """INSIGHTS_CHANNEL names a channel per workspace; one workspace not installed posts nothing and stops no other."""
    token_a, token_b = tokens
    channels = f"{TEAM_A}:{CHANNEL_A},{TEAM_B}:{CHANNEL_B},T0GONE001:C0GONE"
    named = settings.model_copy(update={"insights_channel": channels})
    workspaces = create_workspaces(named, store)
    post = weekly_post(named, store, create_client(named), workspaces)
    assert post is not None
    outcome = await post()
    assert "T0GONE001: not installed" in outcome
    for channel, token in ((CHANNEL_A, token_a), (CHANNEL_B, token_b)):
        (shared,) = [c for c in standin.calls_to("files.completeUploadExternal") if c.params["channel_id"] == channel]
        assert shared.token == token and shared.response and shared.response.get("ok")
        assert len(standin.messages(channel)) == 1


def test_insights_in_several_workspaces_need_the_workspace_of_each_channel(settings: Settings) -> None:
    with pytest.raises(ValueError, match="TEAM:CHANNEL"):
        Settings(**{**settings.model_dump(), "insights_channel": CHANNEL_A})
