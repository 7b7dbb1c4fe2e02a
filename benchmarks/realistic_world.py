"""The fictional world of the realistic generator: a tenant, its people and their habits, the
outside organizations that mail them, the servers in between, and the subjects they write.

Sizes scale with the number of rows (at 300,000 rows: about 2,750 mailboxes, 1,500 outside
domains, 7,000 outside addresses of which about 5,000 are seen, 2,300 conversation threads).
Everything is drawn from the seed; lists of a few thousand entities are built in Python once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

DEFAULT_SEED = 7
START_NS = int(np.datetime64("2026-09-07T00:00:00", "ns").astype(np.int64))  # a Monday
SPAN_DAYS = 7
TENANT_DOMAINS = ("contoso.com", "northwindtraders.com")
TENANT_COUNTRY = "DE"

FIRST = (  # noqa: SIM905 - a list of words reads best as text
    "anna ben carla david elena felix greta hannah ivan julia karim laura marco nina oliver "
    "paula quentin rosa stefan tara ugo vera walter xenia yusuf zoe aiko bruno chloe daniel "
    "emma farid gabriel helena ines jonas kenji lena mateo noah olga pedro rania sofia tomas "
    "ulla viktor wei yara lukas mia leon amelie paul sara mehmet fatima jan eva piotr agnieszka "
    "lars ingrid sven astrid raj priya chen li hiro yuki omar layla diego lucia ahmed nora erik "
    "maja"
).split()
LAST = (  # noqa: SIM905 - a list of words reads best as text
    "berg schmidt meyer weber wagner becker hoffmann schulz koch richter klein wolf neumann "
    "schwarz zimmermann braun krueger hartmann lange werner krause lehmann koehler maier "
    "herrmann kaiser fuchs peters lang scholz moeller weiss jung hahn vogel friedrich keller "
    "guenther frank berger winkler roth beck lorenz baumann franke albrecht schuster simon "
    "ludwig boehm winter kraus martin schumacher kraemer vogt stein jaeger otto sommer gross "
    "seidel heinrich brandt haas schreiber graf dietrich ziegler kuhn pohl engel horn busch "
    "bergmann thomas voigt sauer arnold wolff pfeiffer rossi garcia dubois nakamura kowalski "
    "johansson silva novak jensen smith tanaka haddad ivanova"
).split()
TEAMS = "sales finance hr legal it marketing support logistics purchasing research board ops"
CITIES = (
    "Berlin",
    "Munich",
    "Hamburg",
    "Paris",
    "Madrid",
    "London",
    "Vienna",
    "Zurich",
    "Warsaw",
    "Tokyo",
    "Dubai",
    "Singapore",
)
PROJECTS = (  # noqa: SIM905 - a list of words reads best as text
    "Falcon Orion Atlas Nimbus Helios Quartz Boreal Cascade Delta Ember Fjord Granite Harbor "
    "Iris Juniper Keystone Lumen Meridian Nova Onyx Pioneer Quest Radiant Summit Tundra Umbra "
    "Vertex Willow Zephyr"
).split()
SYLLABLES = (  # noqa: SIM905 - a list of words reads best as text
    "al bar cor dan el fen gal hol ist jor kal lum mar nor os pel quin ros sal tor ul ven wes "
    "xan yor zen tri vel mon ark bel cas dor fal gri hal ix kor lor mir nex or pra qua ril sto "
    "tal und vox wyn"
).split()
SUFFIXES = ("", "", "", "tech", "group", "labs", "consulting", "logistics", "bank", "media")
# top-level domain: country and language of the organizations there, and how many
TLDS = (
    (".com", "US", "en", 30),
    (".de", "DE", "de", 14),
    (".co.uk", "GB", "en", 6),
    (".fr", "FR", "fr", 5),
    (".nl", "NL", "nl", 4),
    (".es", "ES", "es", 3),
    (".it", "IT", "it", 3),
    (".pl", "PL", "pl", 2),
    (".se", "SE", "sv", 2),
    (".ch", "CH", "de", 2),
    (".at", "AT", "de", 2),
    (".jp", "JP", "ja", 3),
    (".cn", "CN", "zh", 2),
    (".ru", "RU", "ru", 2),
    (".ae", "AE", "ar", 1.5),
    (".com.br", "BR", "pt", 1.5),
    (".in", "IN", "en", 2),
    (".io", "US", "en", 2),
    (".net", "US", "en", 4),
    (".org", "US", "en", 3),
)
M365, GOOGLE, SELF_HOSTED, ESP = range(4)
PROVIDERS = (
    ("gmail.com", "US", "en", GOOGLE),
    ("outlook.com", "US", "en", M365),
    ("hotmail.com", "US", "en", M365),
    ("yahoo.com", "US", "en", SELF_HOSTED),
    ("gmx.de", "DE", "de", SELF_HOSTED),
    ("web.de", "DE", "de", SELF_HOSTED),
    ("orange.fr", "FR", "fr", SELF_HOSTED),
    ("icloud.com", "US", "en", SELF_HOSTED),
    ("yandex.ru", "RU", "ru", SELF_HOSTED),
    ("qq.com", "CN", "zh", SELF_HOSTED),
)
ESP_DOMAINS = ("mailrelay-one.net", "sendpost.io", "campaignmta.com", "newsbeam.net")
LANGUAGES = ("en", "de", "fr", "es", "nl", "it", "pl", "sv", "pt", "ja", "zh", "ru", "ar")
# the tenant's people write mostly English and German; some write to partners in their language
TENANT_LANGUAGES = {"en": 0.69, "de": 0.235, "fr": 0.015, "ja": 0.015, "ru": 0.015, "zh": 0.015}
TENANT_LANGUAGES["ar"] = 1 - sum(TENANT_LANGUAGES.values())
SUBJECTS = {
    "en": (
        "{proj} status update, week {k}",
        "Invoice {n}",
        "Meeting notes: {proj} {date}",
        'Feedback on "{proj}", draft {k}',
        "Quarterly report {proj}, Q{q}",
        "Lunch on {day} with the {city} team?",
        "Contract {n} - signature needed",
        "Your order {n} has shipped",
        "Agenda for {day}, {proj} review",
        "Question about {proj} ticket {n}",
        "Travel plans, {city} {date}",
        "Updated proposal for {proj} ({n})",
        'The "{proj}" kickoff, {date}',
    ),
    "de": (
        "Angebot {n}",
        "Rechnung {n} vom {date}",
        "Besprechung {proj}",
        "Protokoll: {proj}, Teil {k}",
        "Rückfrage zu „{proj}“",
        "Urlaubsvertretung {day}, {date}",
        "Änderungen am Vertrag {n}",
        'Freigabe "{proj}" bis {date}',
    ),
    "fr": ("Devis {n}", "Réunion du {date}", "Compte rendu : {proj}", "Facture n° {n}"),
    "es": ("Presupuesto {n}", "Reunión del {date}", "Pedido {n}, confirmación"),
    "nl": ("Offerte {n}", "Vergadering {date}", "Factuur {n}"),
    "it": ("Preventivo {n}", "Riunione del {date}", "Fattura n. {n}"),
    "pl": ("Oferta {n}", "Spotkanie {date}", "Faktura nr {n}"),
    "sv": ("Offert {n}", "Möte {date}", "Faktura {n}"),
    "pt": ("Orçamento {n}", "Reunião de {date}", "Fatura {n}"),
    "ja": (
        "会議の件（{n}）",
        "見積書送付のお願い {n}",
        "{proj}プロジェクトの進捗",
        "出張の件、{date}",
    ),
    "zh": ("关于{n}号订单的问题", "会议纪要 {date}", "{proj}项目进展"),
    "ru": ("Отчёт по проекту {proj}", "Счёт № {n} от {date}", "Встреча {date}, повестка"),
    "ar": ("اجتماع يوم {date}", "فاتورة رقم {n}", "تقرير المشروع {proj}"),
}
BULK_WORDS = {
    "en": "weekly update",
    "de": "Newsletter",
    "fr": "Lettre d'information",
    "es": "Boletín semanal",
    "nl": "Nieuwsbrief",
    "it": "Notiziario",
    "pl": "Biuletyn",
    "sv": "Nyhetsbrev",
    "pt": "Boletim semanal",
    "ja": "週刊ニュース",
    "zh": "每周简报",
    "ru": "Еженедельные новости",
    "ar": "النشرة الأسبوعية",
}
EMOJI = ("🎉", "📅", "✅", "🔔", "🍕", "🚀")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
EU_REGIONS = ("AM", "DB", "VI", "PA", "HE", "AS", "GV", "DU", "PR", "FR")
ALL_REGIONS = (
    ("eurprd", EU_REGIONS),
    ("namprd", ("BY", "MW", "SN", "CH", "DM", "CY", "BN", "SA", "PH", "BL", "MN", "SJ")),
    ("apcprd", ("SG", "TY", "KL", "PS", "SE", "OS", "ME", "SY")),
)
#: The tenant's transport rules (bit, action); none copies, redirects or deletes mail.
RULES = (
    (1, "PrependSubject"),
    (2, "SetHeader"),
    (4, "ApplyHtmlDisclaimer"),
    (8, "ApplyClassification"),
)
RESERVED_FIRST_OCTETS = {0, 10, 100, 127, 169, 172, 192, 198, 203}


class Scalars:
    """A numpy Generator whose one-at-a-time draws (``integers(a, b)``, ``random()``,
    ``choice(a, p=...)``) come from a buffer: drawing scalars one by one from numpy costs
    microseconds each, and the world is built from tens of thousands of them. Draws with a
    ``size`` go to the generator itself."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.buffer = np.empty(0)
        self.position = 0

    def _next(self) -> float:
        if self.position == len(self.buffer):
            self.buffer = self.rng.random(1 << 16)
            self.position = 0
        self.position += 1
        return float(self.buffer[self.position - 1])

    def integers(self, low: Any, high: Any = None, size: Any = None) -> Any:
        if size is None and isinstance(low, int) and isinstance(high, int):
            return low + min(int(self._next() * (high - low)), high - low - 1)
        return self.rng.integers(low, high, size)

    def random(self, size: Any = None) -> Any:
        return self._next() if size is None else self.rng.random(size)

    def choice(self, a: Any, size: Any = None, p: Any = None, replace: bool = True) -> Any:
        if size is None:
            n = a if isinstance(a, int) else len(a)
            if p is None:
                index = self.integers(0, n)
            else:
                cumulative = np.cumsum(p)
                index = min(int(np.searchsorted(cumulative, self._next() * cumulative[-1])), n - 1)
            return index if isinstance(a, int) else a[index]
        return self.rng.choice(a, size, p=p, replace=replace)

    def __getattr__(self, name: str) -> Any:  # lognormal, uniform, permutation, ...
        return getattr(self.rng, name)


def _deletions(name: str) -> set[str]:
    return {name[:i] + name[i + 1 :] for i in range(len(name))}


class LookalikeFilter:
    """Keeps a domain only when no kept domain is one edit (or one swap) away from it.

    Two names within one insertion, deletion or substitution share a one-character deletion
    or one is a deletion of the other, so a set of every kept name and its deletions answers
    in O(length) per name.
    """

    def __init__(self, names: tuple[str, ...] = ()):
        self.seen: set[str] = set()
        for name in names:
            self.add(name)

    def add(self, name: str) -> bool:
        variants = _deletions(name)
        if name in self.seen or variants & self.seen or "rn" in name or "vv" in name:
            return False
        self.seen |= variants | {name}
        return True


def _public_blocks(rng: Scalars, n: int) -> list[tuple[int, int]]:
    """``n`` /16 blocks of addresses outside the private and documentation ranges."""
    blocks: list[tuple[int, int]] = []
    while len(blocks) < n:
        first = int(rng.integers(11, 224))
        if first not in RESERVED_FIRST_OCTETS:
            blocks.append((first, int(rng.integers(0, 256))))
    return blocks


def _ip_in(rng: Scalars, blocks: list[tuple[int, int]]) -> str:
    a, b = blocks[int(rng.integers(0, len(blocks)))]
    return f"{a}.{b}.{int(rng.integers(0, 256))}.{int(rng.integers(1, 255))}"


def _exo_host(rng: Scalars, region: str, codes: tuple[str, ...]) -> tuple[str, str]:
    short = (
        f"{codes[int(rng.integers(0, len(codes)))]}{int(rng.integers(0, 10))}PR"
        f"{int(rng.integers(1, 20)):02d}MB{int(rng.integers(1000, 10000))}"
    )
    return short, f"{short}.{region}{int(rng.integers(1, 20)):02d}.prod.outlook.com"


@dataclass
class World:
    """Everything the messages are drawn from."""

    seed: int
    tenant_id: str
    forest: str
    user_count: int
    group_count: int
    address_text: list[str]  # users, then groups, then outside addresses
    # people of the tenant
    user_send_weight: np.ndarray
    user_receive_weight: np.ndarray
    delegate: np.ndarray
    group_offsets: np.ndarray
    group_flat: np.ndarray
    user_server: np.ndarray
    user_site: np.ndarray
    user_remote: np.ndarray
    user_mobile_share: np.ndarray
    user_carrier: np.ndarray
    user_home_ip: pa.Array
    user_home2_ip: pa.Array
    user_home_change_ns: np.ndarray  # a new home IP from then on (0: never)
    user_trip: np.ndarray  # (users, 2) start and end of a trip (0, 0: none)
    user_hotel_ip: pa.Array
    site_ip: pa.Array  # two NAT addresses per office
    carrier_block: np.ndarray  # (carriers, 2) first two octets of each mobile network
    # outside
    outside_domain: np.ndarray
    outside_bulk: np.ndarray
    outside_language: np.ndarray
    outside_send_weight: np.ndarray
    outside_receive_weight: np.ndarray
    outside_brand: pa.Array
    domain_text: pa.Array
    domain_hosting: np.ndarray
    domain_country: pa.Array
    domain_ip_offsets: np.ndarray
    domain_ips: pa.Array
    esp_of_domain: np.ndarray
    esp_block: np.ndarray  # (ESPs, 3) first three octets of each sender's /24 ... /22
    esp_text: pa.Array
    # servers
    server_short: pa.Array
    server_full: pa.Array
    server_ipv6: pa.Array
    door_full: pa.Array
    door_ip: pa.Array
    outside_exo_short: pa.Array
    outside_exo_full: pa.Array
    eop_hosts: pa.Array
    google_hosts: pa.Array
    # subjects
    languages: tuple[str, ...]
    tenant_language_share: np.ndarray
    thread_start: np.ndarray
    thread_count: np.ndarray
    thread_subject: pa.Array
    rule_text: pa.Array  # custom_data of the transport-rule AGENTINFO row, by rule bit set
    failed: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    @property
    def users(self) -> int:
        return self.user_count

    @property
    def outside_start(self) -> int:
        return self.user_count + self.group_count

    def group_members_of(self, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The member user indices of each group (flat) and how many each has."""
        counts = self.group_offsets[groups + 1] - self.group_offsets[groups]
        starts = np.repeat(self.group_offsets[groups], counts)
        position = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        return self.group_flat[starts + position], counts

    def add_failed_addresses(self, messages: np.ndarray, kinds: np.ndarray) -> np.ndarray:
        """Addresses that do not exist, one per message given: indices into ``addresses``."""
        first = len(self.address_text) + sum(len(m) for m, _ in self.failed)
        self.failed.append((messages, kinds))
        return first + np.arange(len(messages))

    def addresses(self) -> pa.Array:
        """Every address: users, groups, outside addresses, then the ones that do not exist."""
        rng = Scalars(np.random.default_rng([self.seed, 5]))
        texts = list(self.address_text)
        domains = self.domain_text.to_pylist()
        for _messages, kinds in self.failed:
            for kind in kinds.tolist():
                first = FIRST[int(rng.integers(0, len(FIRST)))]
                last = LAST[int(rng.integers(0, len(LAST)))]
                if kind == 2:  # outbound: a correspondent's colleague who left
                    domain = domains[int(rng.integers(len(PROVIDERS), len(domains)))]
                    texts.append(f"{first}{last[0]}{int(rng.integers(1, 10))}@{domain}")
                else:  # a typo of a colleague's address
                    texts.append(f"{first}{last}{int(rng.integers(1, 10))}@{TENANT_DOMAINS[0]}")
        return pa.array(texts, pa.string())


def _people(rng: Scalars, users: int) -> list[str]:
    combos = len(FIRST) * len(LAST)
    order = rng.permutation(combos)
    domains = rng.choice(2, users, p=[0.85, 0.15])
    texts = []
    for i in range(users):
        first, last = divmod(int(order[i % combos]), len(LAST))
        suffix = "" if i < combos else str(i // combos + 1)
        texts.append(f"{FIRST[first]}.{LAST[last]}{suffix}@{TENANT_DOMAINS[domains[i]]}")
    return texts


def _domains(rng: Scalars, count: int) -> dict:
    """Outside domains: mail providers, then organizations (none a look-alike of another)."""
    check = LookalikeFilter(TENANT_DOMAINS + ESP_DOMAINS)
    names, countries, languages, hosting = [], [], [], []
    for name, country, language, host in PROVIDERS:
        check.add(name)
        names.append(name)
        countries.append(country)
        languages.append(LANGUAGES.index(language))
        hosting.append(host)
    weights = np.array([t[3] for t in TLDS], dtype=float)
    while len(names) < count:
        label = "".join(
            SYLLABLES[int(i)] for i in rng.integers(0, len(SYLLABLES), rng.integers(2, 4))
        )
        label += SUFFIXES[int(rng.integers(0, len(SUFFIXES)))]
        tld, country, language, _ = TLDS[int(rng.choice(len(TLDS), p=weights / weights.sum()))]
        if check.add(label + tld):
            names.append(label + tld)
            countries.append(country)
            languages.append(LANGUAGES.index(language))
            hosting.append(int(rng.choice(3, p=[0.55, 0.2, 0.25])))
    ip_counts = np.where(np.array(hosting) == SELF_HOSTED, rng.integers(1, 5, len(names)), 0)
    blocks = _public_blocks(rng, 60)
    ips = [_ip_in(rng, blocks) for _ in range(int(ip_counts.sum()))]
    return {
        "names": names,
        "countries": countries,
        "languages": np.array(languages),
        "hosting": np.array(hosting),
        "ip_offsets": np.concatenate([[0], np.cumsum(ip_counts)]),
        "ips": ips,
    }


def _outside(rng: Scalars, count: int, domains: dict) -> dict:
    """Outside addresses: newsletters, role mailboxes and people, on Zipf-weighted domains."""
    names = domains["names"]
    business = np.arange(len(PROVIDERS), len(names))
    zipf = 1 / np.arange(1, len(business) + 1) ** 0.9
    zipf /= zipf.sum()
    texts: list[str] = []
    seen: set[str] = set()
    domain, bulk, brand = [], [], []
    bulk_count, role_count = round(count * 0.12), round(count * 0.08)
    while len(texts) < count:
        i = len(texts)
        if i < bulk_count + role_count:
            d = int(rng.choice(business, p=zipf))
            words = ("newsletter", "noreply", "news", "no-reply", "notifications", "info")
            if i < bulk_count:
                local = words[int(rng.integers(0, len(words)))]
                host = ("", "news.", "mail.")[int(rng.integers(0, 3))] + names[d]
            else:
                roles = ("info", "sales", "support", "billing", "office", "accounts")
                local, host = roles[int(rng.integers(0, len(roles)))], names[d]
        else:
            provider = rng.random() < 0.3
            d = (
                int(rng.integers(0, len(PROVIDERS)))
                if provider
                else int(rng.choice(business, p=zipf))
            )
            first = FIRST[int(rng.integers(0, len(FIRST)))]
            last = LAST[int(rng.integers(0, len(LAST)))]
            local = f"{first}.{last}" + (str(int(rng.integers(1, 100))) if provider else "")
            host = names[d]
        address = f"{local}@{host}"
        if address in seen:
            continue
        seen.add(address)
        texts.append(address)
        domain.append(d)
        bulk.append(i < bulk_count)
        label = names[d].split(".")[0]
        brand.append(label[:1].upper() + label[1:])
    bulk_mask = np.array(bulk)
    send = np.where(bulk_mask, rng.lognormal(2.2, 0.8, count), rng.lognormal(0, 1, count))
    send[bulk_count : bulk_count + role_count] *= 0.5
    receive = np.where(bulk_mask, 0.0, rng.lognormal(0, 1, count))
    return {
        "texts": texts,
        "domain": np.array(domain),
        "bulk": bulk_mask,
        "brand": brand,
        "send": send / send.sum(),
        "receive": receive / receive.sum(),
    }


def _subjects(rng: Scalars, threads: int, usage: np.ndarray) -> dict:
    """Conversation subjects per language, in proportion to how much each language is used.

    Every thread has a subject of its own (unrelated conversations rarely share one exactly),
    except the few with no subject at all.
    """
    counts = np.maximum(3, np.round(threads * usage / usage.sum())).astype(np.int64)
    subjects: list[str] = []
    seen: set[str] = set()
    for language, count in zip(LANGUAGES, counts.tolist(), strict=True):
        templates = SUBJECTS[language]
        for _ in range(count):
            template = templates[int(rng.integers(0, len(templates)))]
            day = int(rng.integers(1, 29))
            subject = template.format(
                proj=PROJECTS[int(rng.integers(0, len(PROJECTS)))],
                n=int(rng.integers(1000, 99999)),
                k=int(rng.integers(1, 9)),
                q=int(rng.integers(1, 5)),
                day=DAYS[int(rng.integers(0, len(DAYS)))],
                city=CITIES[int(rng.integers(0, len(CITIES)))],
                date=f"{day:02d}.{int(rng.integers(1, 13)):02d}.2026",
            )
            draw = rng.random()
            if draw < 0.06:
                subject = f"{EMOJI[int(rng.integers(0, len(EMOJI)))]} {subject}"
            while subject in seen:
                subject += f" ({int(rng.integers(2, 100))})"
            seen.add(subject)
            subjects.append("" if draw > 0.995 else subject)
    return {
        "start": np.concatenate([[0], np.cumsum(counts)[:-1]]),
        "count": counts,
        "subjects": subjects,
    }


def _servers(rng: Scalars, users: int) -> dict:
    servers = [_exo_host(rng, "eurprd", EU_REGIONS) for _ in range(max(8, users // 12))]
    doors = []
    for _ in range(400):
        short = f"{EU_REGIONS[int(rng.integers(0, len(EU_REGIONS)))]}{int(rng.integers(1, 9))}PEPF"
        short += f"{int(rng.integers(0, 1 << 32)):08X}"
        doors.append(f"{short}.eurprd{int(rng.integers(1, 10)):02d}.prod.outlook.com")
    outside = []
    for _ in range(3000):
        region, codes = ALL_REGIONS[int(rng.choice(3, p=[0.5, 0.35, 0.15]))]
        outside.append(_exo_host(rng, region, codes))
    eop = [
        f"mail-{EU_REGIONS[int(rng.integers(0, 10))].lower()}{int(rng.integers(1, 9))}"
        f"{('eur', 'nam', 'apc')[int(rng.integers(0, 3))]}{int(rng.integers(1, 6)):02d}"
        f"on{int(rng.integers(2000, 2200))}.outbound.protection.outlook.com"
        for _ in range(2000)
    ]
    google = [
        f"mail-{chr(97 + int(rng.integers(0, 26)))}{chr(97 + int(rng.integers(0, 26)))}"
        f"{int(rng.integers(1, 9))}-f{int(rng.integers(41, 250))}.google.com"
        for _ in range(2000)
    ]
    return {"servers": servers, "doors": doors, "outside": outside, "eop": eop, "google": google}


def _rule_texts(rng: Scalars) -> list[str]:
    """The transport-rule section for every combination of the tenant's rules."""
    sections = {}
    for bit, action in RULES:
        guid = "-".join(f"{int(rng.integers(0, 1 << 32)):08x}"[:n] for n in (8, 4, 4, 4)) + (
            f"-{int(rng.integers(0, 1 << 48)):012x}"
        )
        month, day, hour = (
            int(rng.integers(1, 13)),
            int(rng.integers(1, 29)),
            int(rng.integers(1, 13)),
        )
        # the rule's last change, in the admin's locale (a US admin here)
        minute, second = int(rng.integers(0, 60)), int(rng.integers(0, 60))
        stamp = f"{month}/{day}/2025 {hour}:{minute:02d}:{second:02d} PM"
        sections[bit] = f"S:TRA=ETR|ruleId={guid}|st={stamp}|action={action}|sev=1|mode=Enforce"
    return [";".join(text for bit, text in sections.items() if mask & bit) for mask in range(16)]


def build_world(rows: int, seed: int = DEFAULT_SEED) -> World:
    """The world for a report of about ``rows`` rows."""
    rng = Scalars(np.random.default_rng([seed, 99]))
    scale = rows / 300_000
    users = max(25, round(2750 * scale))
    groups = max(3, users // 60)
    people = _people(rng, users)
    teams = TEAMS.split()
    group_names = [
        f"{teams[i % len(teams)]}.{CITIES[(i // len(teams)) % len(CITIES)].lower()}"
        f"{'' if i < len(teams) * len(CITIES) else i}@{TENANT_DOMAINS[0]}"
        for i in range(groups)
    ]
    group_sizes = rng.integers(3, 13, groups)
    domains = _domains(rng, max(30, round(1500 * scale)))
    outside = _outside(rng, max(60, round(5600 * scale)), domains)

    span_ns = SPAN_DAYS * 86400 * 10**9
    blocks = _public_blocks(rng, 40)
    sites = max(2, users // 350)
    changed = rng.random(users) < 0.15
    travels = rng.random(users) < 0.05
    trip_start = START_NS + rng.integers(0, span_ns - 86400 * 10**9, users)
    trip_end = trip_start + rng.integers(1, 5, users) * 86400 * 10**9
    delegate = (np.arange(users) + 1 + rng.integers(0, max(1, users - 1), users)) % users

    usage_inbound = np.bincount(
        domains["languages"][outside["domain"]],
        weights=np.where(outside["bulk"], 0, outside["send"]),
        minlength=len(LANGUAGES),
    )
    tenant_share = np.array([TENANT_LANGUAGES.get(lang, 0.0) for lang in LANGUAGES])
    usage = 0.45 * tenant_share + 0.55 * usage_inbound / usage_inbound.sum()
    subjects = _subjects(rng, max(40, round(2300 * scale)), usage)
    servers = _servers(rng, users)
    esp = np.array(
        [
            (int(a), int(b), int(c) & 0xFC)
            for (a, b), c in zip(
                _public_blocks(rng, len(ESP_DOMAINS)),
                rng.integers(0, 256, len(ESP_DOMAINS)),
                strict=True,
            )
        ]
    )

    def ipv6_server() -> str:
        return (
            f"2603:10a6:{int(rng.integers(0x200, 0x1000)):x}:{int(rng.integers(0x10, 0x1000)):x}"
            f"::{int(rng.integers(0x10, 0x100)):x}"
        )

    tenant = f"{int(rng.integers(0, 1 << 32)):08x}-{int(rng.integers(0, 1 << 16)):04x}-4"
    tenant += f"{int(rng.integers(0, 1 << 12)):03x}-a{int(rng.integers(0, 1 << 12)):03x}-"
    tenant += f"{int(rng.integers(0, 1 << 48)):012x}"
    forest = f"EURPR{int(rng.integers(1, 10)):02d}A{int(rng.integers(1, 20)):03d}"
    forest += ".PROD.OUTLOOK.COM"
    return World(
        seed=seed,
        tenant_id=tenant,
        forest=forest,
        user_count=users,
        group_count=groups,
        address_text=people + group_names + outside["texts"],
        user_send_weight=_normalized(rng.lognormal(0, 0.8, users)),
        user_receive_weight=_normalized(rng.lognormal(0, 0.7, users)),
        delegate=delegate,
        group_offsets=np.concatenate([[0], np.cumsum(group_sizes)]),
        group_flat=rng.integers(0, users, int(group_sizes.sum())),
        user_server=rng.integers(0, len(servers["servers"]), users),
        user_site=rng.integers(0, sites, users),
        user_remote=rng.random(users) < 0.15,
        user_mobile_share=rng.uniform(0.03, 0.35, users),
        user_carrier=rng.integers(0, 3, users),
        user_home_ip=pa.array([_ip_in(rng, blocks) for _ in range(users)]),
        user_home2_ip=pa.array([_ip_in(rng, blocks) for _ in range(users)]),
        user_home_change_ns=np.where(changed, START_NS + rng.integers(0, span_ns, users), 0),
        user_trip=np.stack([np.where(travels, trip_start, 0), np.where(travels, trip_end, 0)], 1),
        user_hotel_ip=pa.array([_ip_in(rng, _public_blocks(rng, 1)) for _ in range(users)]),
        site_ip=pa.array([_ip_in(rng, blocks) for _ in range(2 * sites)]),
        carrier_block=np.array(_public_blocks(rng, 3)),
        outside_domain=outside["domain"],
        outside_bulk=outside["bulk"],
        outside_language=domains["languages"][outside["domain"]],
        outside_send_weight=outside["send"],
        outside_receive_weight=outside["receive"],
        outside_brand=pa.array(outside["brand"], pa.string()),
        domain_text=pa.array(domains["names"], pa.string()),
        domain_hosting=domains["hosting"],
        domain_country=pa.array(domains["countries"], pa.string()),
        domain_ip_offsets=domains["ip_offsets"],
        domain_ips=pa.array(domains["ips"], pa.string()),
        esp_of_domain=rng.integers(0, len(ESP_DOMAINS), len(domains["names"])),
        esp_block=esp,
        esp_text=pa.array(ESP_DOMAINS, pa.string()),
        server_short=pa.array([s for s, _ in servers["servers"]]),
        server_full=pa.array([f for _, f in servers["servers"]]),
        server_ipv6=pa.array([ipv6_server() for _ in servers["servers"]]),
        door_full=pa.array(servers["doors"]),
        door_ip=pa.array(
            [f"52.101.{int(rng.integers(0, 256))}.{int(rng.integers(1, 255))}" for _ in range(400)]
        ),
        outside_exo_short=pa.array([s for s, _ in servers["outside"]]),
        outside_exo_full=pa.array([f for _, f in servers["outside"]]),
        eop_hosts=pa.array(servers["eop"]),
        google_hosts=pa.array(servers["google"]),
        languages=LANGUAGES,
        tenant_language_share=tenant_share,
        thread_start=subjects["start"],
        thread_count=subjects["count"],
        thread_subject=pa.array(subjects["subjects"], pa.string()),
        rule_text=pa.array(_rule_texts(rng), pa.string()),
    )


def _normalized(weights: np.ndarray) -> np.ndarray:
    return weights / weights.sum()
