"""A fake 企信通 fungo platform (《语音验证码平台接口说明（HTTP）》), as strict as the document.

- ``GET /Recv_center``: checks CpName/CpPassword (``-1000``), account state (``-1004``/``-1005``),
  DesMobile (comma-separated, ``-1010`` for a bad number, ``-1007`` above 200), Content (``-1009``
  empty; 4–6 digits, or ``APPID|模板ID|参数`` with this fake's APPID (``-1008``) and a filed
  template (``-1021``); an optional 【…】 label is accepted), ExtCode (digits, ``-1014``), the
  blacklist (``-1012``) and the balance (``-1011`` in fen, ``-1006`` for a sub-account's count).
  Answers ``{"smsid": …, "code": "0"}`` / ``{"code": …}``.
- ``GET /QueryBlance``: the balance in fen (main account) or remaining count (sub-account), ``-1``
  for bad credentials, ``-3`` for an account not opened, ``-99`` for no balance and ``-2`` when the
  same account asked less than 60 s ago (``clock`` is injectable so tests can move time).

``submitted`` holds one dict per accepted number; ``push_body(...)`` and ``reply_body(...)`` build the
document-shaped pushes our callback endpoint receives.
"""

from __future__ import annotations

import hmac
import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from vendors.adapters.base import e164_mobile

from .base import FakeRequest, FakeVendor, Reply

LABEL_RE = re.compile(r"^【(语音验证码|语音通知|语音通知按键|语音通知文件)】")
MOBILE_RE = re.compile(r"1\d{10}|0\d{9,11}")
CODE_RE = re.compile(r"\d{4,6}")


@dataclass
class FakeFungoAccount:
    password: str
    balance: int  # fen for a main account, remaining count for a sub-account
    sub_account: bool = False
    state: str = "open"  # "open", "not_opened" (-3), "cancelled" (-1004), "disabled" (-1005)


class FakeFungo(FakeVendor):
    max_numbers = 200
    price_fen = 10  # charged per number on a main account; a sub-account spends one count per number
    balance_interval = 60.0

    def __init__(
        self,
        cp_name: str = "fungo-cp",
        cp_password: str = "fungo-pass",
        *,
        balance: int = 1_000_000,
        sub_account: bool = False,
        app_id: str = "8a48b5514f4c1e4c",
        templates: Iterable[str] = ("1001", "1002", "1003"),
    ):
        super().__init__()
        self.accounts: dict[str, FakeFungoAccount] = {}
        self.add_account(cp_name, cp_password, balance=balance, sub_account=sub_account)
        self.app_id = app_id
        self.templates = set(templates)
        self.blacklist: set[str] = set()
        self.submitted: list[dict] = []
        self.next_codes: deque[str] = deque()  # forced answers for the next submits
        self.next_balance_answers: deque[str] = deque()  # forced raw answers for the next QueryBlance
        self.clock = time.monotonic
        self._last_balance_query: dict[str, float] = {}
        self._state = threading.Lock()

    def add_account(
        self, name: str, password: str, *, balance: int = 0, sub_account: bool = False, state: str = "open"
    ) -> FakeFungoAccount:
        self.accounts[name] = FakeFungoAccount(password, balance, sub_account, state)
        return self.accounts[name]

    # ---- dispatch
    def handle(self, request: FakeRequest) -> Reply:
        if request.method != "GET":
            return Reply("Method Not Allowed", 405)
        if request.path == "/Recv_center":
            return self._recv_center(request)
        if request.path == "/QueryBlance":
            return self._query_balance(request)
        return Reply("Not Found", 404)

    def _account(self, request: FakeRequest) -> tuple[str, FakeFungoAccount | None]:
        name = request.query.get("CpName") or ""
        password = request.query.get("CpPassword") or ""
        account = self.accounts.get(name)
        if account is None or not hmac.compare_digest(account.password.encode(), password.encode()):
            return name, None
        return name, account

    @staticmethod
    def _code(code: str, smsid: str | None = None) -> Reply:
        body = {"smsid": smsid, "code": code} if smsid else {"code": code}
        return Reply(json.dumps(body), content_type="text/html; charset=utf-8")

    def _recv_center(self, request: FakeRequest) -> Reply:
        q = request.query
        name, account = self._account(request)
        if account is None:
            return self._code("-1000")
        if account.state == "cancelled":
            return self._code("-1004")
        if account.state == "disabled":
            return self._code("-1005")
        if self.next_codes:
            return self._code(self.next_codes.popleft())
        if "DesMobile" not in q or "Content" not in q:
            return self._code("-1008")
        mobiles = q["DesMobile"].split(",")
        if len(mobiles) > self.max_numbers:
            return self._code("-1007")
        if not all(MOBILE_RE.fullmatch(m) for m in mobiles):
            return self._code("-1010")
        content = q["Content"]
        if not content:
            return self._code("-1009")
        code = self._check_content(LABEL_RE.sub("", content, count=1))
        if code:
            return self._code(code)
        ext_code = q.get("ExtCode")
        if ext_code is not None and not re.fullmatch(r"\d{1,20}", ext_code):
            return self._code("-1014")
        if self.blacklist.intersection(mobiles):
            return self._code("-1012")
        cost = len(mobiles) * (1 if account.sub_account else self.price_fen)
        smsid = uuid.uuid4().hex.upper()
        with self._state:
            if account.balance < cost:
                return self._code("-1006" if account.sub_account else "-1011")
            account.balance -= cost
            self.submitted.extend(
                {
                    "custom_id": None,
                    "mobile": e164_mobile(m),
                    "wire_mobile": m,
                    "vendor_message_id": smsid,
                    "batch_id": smsid,
                    "content": content,
                    "ext_code": ext_code,
                    "account": name,
                }
                for m in mobiles
            )
        return self._code("0", smsid)

    def _check_content(self, content: str) -> str | None:
        if CODE_RE.fullmatch(content):
            return None
        parts = content.split("|")
        if len(parts) != 3 or parts[0] != self.app_id:
            return "-1008"
        if parts[1] not in self.templates:
            return "-1021"
        return None

    def _query_balance(self, request: FakeRequest) -> Reply:
        if self.next_balance_answers:
            return Reply(self.next_balance_answers.popleft())
        name, account = self._account(request)
        if account is None:
            return Reply("-1")
        now = self.clock()
        with self._state:
            last = self._last_balance_query.get(name)
            if last is not None and now - last < self.balance_interval:
                return Reply("-2")
            self._last_balance_query[name] = now
        if account.state == "not_opened":
            return Reply("-3")
        if account.balance <= 0:
            return Reply("-99")
        return Reply(str(account.balance))

    # ---- pushes for callback tests
    def push_body(
        self,
        entries: Iterable[dict] | None = None,
        status: str | Mapping[str, str] = "0",
        *,
        in_query: bool = False,
    ) -> tuple[bytes, dict[str, str], dict[str, str]]:
        """A status push ``args=key,phone,status;…`` for submitted calls → (body, headers, query).

        ``entries`` default to every submitted number; ``status`` is one code for all, or a mapping
        from the E.164 mobile to its code. The vendor POSTs it as a form body (``in_query`` puts
        ``args`` in the URL instead, as the document's address shows).
        """
        chosen = self.submitted if entries is None else list(entries)
        args = "".join(
            f"{e['vendor_message_id']},{e['wire_mobile']},{status if isinstance(status, str) else status[e['mobile']]};"
            for e in chosen
        )
        if in_query:
            return b"", {}, {"args": args}
        return f"args={args}".encode(), {"content-type": "application/x-www-form-urlencoded"}, {}

    def reply_body(
        self, mobile: str, content: str, cp_mobile: str = "10690000001234"
    ) -> tuple[bytes, dict[str, str], dict[str, str]]:
        """An inbound message (or a key press) push → (body, headers, query), as the document's GET."""
        wire = mobile[3:] if mobile.startswith("+86") else mobile
        return b"", {}, {"userMoblie": wire, "content": content, "cpMoblie": cp_mobile}
