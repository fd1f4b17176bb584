"""The Content Security Policy in a real browser: the admin (unfold, Alpine.js), the dashboards'
charts and Swagger UI all work under it, and Chromium reports no violation on any of them."""

from campaigns import services, tasks
from tests.factories import make_account, make_campaign
from vendors.services import snapshot_balance

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation',
    e => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));
"""


def test_every_kind_of_page_works_under_the_policy(web, make_user):
    make_user("olivia", "Operators")
    account = make_account(pull_reports=True)
    campaign = make_campaign(recipients=20, account=account)
    services.launch(campaign)
    tasks.tick()
    tasks.pull_all()
    for _ in range(2):  # a balance history for the finance chart
        snapshot_balance(account)

    op = web("olivia")
    console = []
    op.page.on("console", lambda message: console.append(message.text))
    op.page.context.add_init_script(RECORD_VIOLATIONS)

    def violations():
        return op.page.evaluate("window.__cspViolations || []")

    response = op.go("/admin/")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert op.wait_painted("#vo-week-canvas")
    assert violations() == []

    op.go(f"/admin/campaigns/campaign/{campaign.pk}/change/")
    assert op.wait_painted("#vo-outcome-canvas")
    assert violations() == []

    op.go("/dashboard/finance/")
    assert op.wait_painted(f"canvas[data-vo-chart='vo-balance-chart-{account.pk}']")
    assert violations() == []

    op.go(f"/admin/vendors/vendoraccount/{account.pk}/change/")
    op.page.locator("input[name=api_secret]").wait_for(state="visible")
    assert violations() == []

    op.go("/admin/axes/accessattempt/", shot="60-login-protection")
    assert violations() == []

    op.go("/api/docs/", shot="61-api-docs-under-csp")
    op.page.wait_for_selector(".swagger-ui .info .title", timeout=15_000)
    assert "VoiceOps API" in op.page.inner_text(".swagger-ui .info .title")
    assert op.page.locator(".opblock").count() > 5
    assert violations() == []

    refused = [text for text in console if "Content Security Policy" in text or "Refused to" in text]
    assert refused == []
