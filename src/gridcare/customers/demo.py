"""Deterministic demo master data: an org tree, N customers with accounts, service points, meters,
contacts and authorisations, and one login per role.

Each customer is generated from its own random stream (`seed:index`), so customer 17 is the same
whatever N is, a second run only adds the indices that are missing, and an interrupted load
resumes where it stopped. Rows are written with `bulk_create` in chunks (one transaction each) and
the load is recorded as one summary audit event: the demo is system data, not user edits.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.db import transaction

from gridcare.access.models import AuditEvent, User
from gridcare.access.roles import Role
from gridcare.access.services import audit_record, user_create
from gridcare.customers.models import (
    Account,
    Authorization,
    Contact,
    Customer,
    CustomerCategory,
    Meter,
    MeterRegister,
    OrgUnit,
    ServicePoint,
)
from gridcare.customers.services import org_unit_create, resident_id_check_digit, uscc_check_char

DEFAULT_SEED = 20261101
EXTERNAL_PREFIX = "DEMO"
DEMO_PASSWORD = "gridcare-demo"
CHUNK = 2000

# Tariff codes (the `code:` of src/gridcare/rating/library/*.yaml), chosen by supply area and
# category. The library ships no agricultural schedule, so demo farms in Guangdong are billed on
# the low-voltage C&I TOU schedule (see docs/customers.md).
TARIFFS = {
    ("GZ", CustomerCategory.RESIDENTIAL): "gz-residential",
    ("SZ", CustomerCategory.RESIDENTIAL): "sz-residential",
    ("ZJ", CustomerCategory.RESIDENTIAL): "zj-residential",
    ("GD", CustomerCategory.GENERAL_CI): "gd-ci-tou-lt1kv",
    ("GD", CustomerCategory.AGRICULTURE): "gd-ci-tou-lt1kv",
    ("HB", CustomerCategory.GENERAL_CI): "hubei-agency-2part-10kv",
    ("HB", CustomerCategory.LARGE_INDUSTRY): "hubei-agency-2part-10kv",
}
# Share of households that opted into the residential time-of-use schedule (`<code>-tou`).
RESIDENTIAL_TOU_SHARE = {"GZ": 0.2, "SZ": 0.2, "ZJ": 0.5}
TARIFF_CODES = frozenset(TARIFFS.values()) | frozenset(
    TARIFFS[(area, CustomerCategory.RESIDENTIAL)] + "-tou" for area in RESIDENTIAL_TOU_SHARE)

# --- the org tree: province → city → county (with ID-card region code) → two stations -------------

# (province code, name, tariff area, weight, cities); city: (code, name, short, residential tariff area,
# counties); county: (code, name, region code, [(station, roads)])
ORG_TREE = [
    ("44", "广东电网有限责任公司", "GD", 60, [
        ("4401", "广州供电局", "广州", "GZ", [
            ("440106", "天河供电局", "440106", "广州市天河区", [("石牌供电所", ["天河路", "石牌西路", "五山路"]),
                                                        ("棠下供电所", ["中山大道西", "棠东东路", "车陂路"])]),
            ("440113", "番禺供电局", "440113", "广州市番禺区", [("市桥供电所", ["清河东路", "环城中路", "光明北路"]),
                                                        ("大石供电所", ["105国道大石段", "石北路", "朝阳东路"])]),
            ("440114", "花都供电局", "440114", "广州市花都区", [("新华供电所", ["新华路", "公益路", "迎宾大道"]),
                                                        ("狮岭供电所", ["狮岭大道", "芙蓉大道", "合成路"])]),
        ]),
        ("4403", "深圳供电局", "深圳", "SZ", [
            ("440305", "南山供电局", "440305", "深圳市南山区", [("蛇口供电所", ["工业八路", "南海大道", "望海路"]),
                                                        ("西丽供电所", ["留仙大道", "沙河西路", "茶光路"])]),
            ("440306", "宝安供电局", "440306", "深圳市宝安区", [("西乡供电所", ["宝安大道", "前进二路", "河东路"]),
                                                        ("沙井供电所", ["新沙路", "北环路", "民主大道"])]),
        ]),
        ("4406", "佛山供电局", "佛山", "GZ", [
            ("440606", "顺德供电局", "440606", "佛山市顺德区", [("大良供电所", ["东乐路", "南国东路", "新基路"]),
                                                        ("乐从供电所", ["乐从大道", "岳步路", "佛山大道南"])]),
            ("440605", "南海供电局", "440605", "佛山市南海区", [("桂城供电所", ["南海大道北", "海五路", "桂澜路"]),
                                                        ("九江供电所", ["沙口路", "儒林路", "九江大道"])]),
        ]),
    ]),
    ("33", "国网浙江省电力有限公司", "ZJ", 25, [
        ("3301", "国网杭州供电公司", "杭州", "ZJ", [
            ("330106", "西湖区供电分公司", "330106", "杭州市西湖区", [("转塘供电所", ["之江路", "转塘直街", "象山路"]),
                                                            ("蒋村供电所", ["文二西路", "天目山路", "紫金港路"])]),
            ("330109", "萧山区供电分公司", "330109", "杭州市萧山区", [("城厢供电所", ["人民路", "育才路", "工人路"]),
                                                            ("瓜沥供电所", ["航坞路", "瓜港大道", "友谊路"])]),
        ]),
        ("3302", "国网宁波供电公司", "宁波", "ZJ", [
            ("330212", "鄞州区供电分公司", "330212", "宁波市鄞州区", [("钟公庙供电所", ["天童南路", "鄞县大道", "中河路"]),
                                                            ("姜山供电所", ["明州大道", "姜山南路", "景江路"])]),
        ]),
    ]),
    ("42", "国网湖北省电力有限公司", "HB", 15, [
        ("4201", "国网武汉供电公司", "武汉", "HB", [
            ("420115", "江夏区供电公司", "420115", "武汉市江夏区", [("庙山供电所", ["庙山大道", "阳光大道", "藏龙大道"]),
                                                          ("金口供电所", ["金水大道", "金口大街", "工业大道"])]),
            ("420112", "东西湖区供电公司", "420112", "武汉市东西湖区", [("吴家山供电所", ["临空港大道", "走马岭路", "金北一路"]),
                                                            ("径河供电所", ["径河路", "五环大道", "天顺路"])]),
        ]),
        ("4205", "国网宜昌供电公司", "宜昌", "HB", [
            ("420505", "猇亭区供电公司", "420505", "宜昌市猇亭区", [("猇亭供电所", ["猇亭大道", "长江大道", "福田路"]),
                                                          ("云池供电所", ["云池路", "港口路", "化工大道"])]),
        ]),
    ]),
]

CATEGORY_MIX = {
    "GD": [(CustomerCategory.RESIDENTIAL, 82), (CustomerCategory.GENERAL_CI, 13), (CustomerCategory.AGRICULTURE, 5)],
    "ZJ": [(CustomerCategory.RESIDENTIAL, 100)],
    "HB": [(CustomerCategory.LARGE_INDUSTRY, 55), (CustomerCategory.GENERAL_CI, 45)],
}

SURNAMES = (
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林",
    "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾", "肖", "田", "董", "袁", "潘", "蔡",
    "蒋", "余", "叶", "杜", "苏", "魏", "程", "吕", "丁", "沈", "任", "姚", "卢", "钟", "姜", "崔", "谭", "陆", "范",
    "汪", "廖", "石", "金", "韦", "贾", "夏", "付", "方", "邹", "熊", "白", "孟", "秦", "邱", "侯", "江", "尹", "薛",
    "欧阳", "司马",
)
SURNAME_WEIGHTS = tuple([70, 68, 66, 52, 47, 33, 24, 21, 20, 19, 18, 17, 12, 12, 12, 12, 11, 11, 11, 10, 10, 10, 8,
                         8, 8, 7, 7, 7, 7, 6, 6, 6, 6, 5, 5, 5, 5, 5, 5, 5, 5, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
                         4, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 1, 1])
GIVEN = (
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀", "霞",
    "平", "刚", "桂", "英", "华", "玉", "萍", "红", "建", "文", "辉", "力", "斌", "波", "宁", "俊", "峰", "婷", "琳",
    "鹏", "浩", "宇", "欣", "雪", "梅", "志", "国", "海", "晨", "佳", "子", "嘉", "思", "雨", "梓", "一", "诗", "婉",
    "凯", "晓", "春", "东", "颖", "丹", "慧", "巧", "凤", "德", "荣", "兰", "金", "永", "少", "家", "天", "小", "新",
)
COMPANY_WORDS = (
    "恒达", "华兴", "金鹏", "宏远", "永盛", "鑫源", "富康", "德润", "嘉禾", "汇丰", "联创", "中科", "新亚", "粤海",
    "万通", "顺发", "瑞丰", "信诚", "天成", "海纳", "长虹", "正泰", "安泰", "佳和", "隆兴", "广源", "九洲", "东方",
    "启明", "锦程", "华瑞", "宝丰", "盛世", "同创", "远航", "博信", "精工", "润泽", "明德", "协力",
)
CI_TRADES = (
    ("餐饮管理有限公司", "住宿和餐饮业"), ("商贸有限公司", "批发和零售业"), ("超市有限公司", "批发和零售业"),
    ("酒店有限公司", "住宿和餐饮业"), ("物业管理有限公司", "房地产业"), ("科技有限公司", "信息传输、软件和信息技术服务业"),
    ("五金制品有限公司", "制造业"), ("服装有限公司", "制造业"), ("印刷有限公司", "制造业"),
    ("汽车维修服务有限公司", "居民服务、修理和其他服务业"), ("冷链物流有限公司", "交通运输、仓储和邮政业"),
    ("医疗器械有限公司", "制造业"), ("教育咨询有限公司", "教育"), ("文化传媒有限公司", "文化、体育和娱乐业"),
)
SHOP_TRADES = (("便利店", "批发和零售业"), ("快餐店", "住宿和餐饮业"), ("理发店", "居民服务、修理和其他服务业"),
               ("五金店", "批发和零售业"), ("水果店", "批发和零售业"), ("干洗店", "居民服务、修理和其他服务业"))
INDUSTRY_TRADES = (
    ("钢铁有限公司", "黑色金属冶炼和压延加工业"), ("化工股份有限公司", "化学原料和化学制品制造业"),
    ("水泥有限公司", "非金属矿物制品业"), ("纸业有限公司", "造纸和纸制品业"), ("电子有限公司", "计算机、通信和其他电子设备制造业"),
    ("机械制造有限公司", "通用设备制造业"), ("纺织有限公司", "纺织业"), ("玻璃有限公司", "非金属矿物制品业"),
    ("铝业有限公司", "有色金属冶炼和压延加工业"), ("塑料制品有限公司", "橡胶和塑料制品业"),
    ("汽车零部件有限公司", "汽车制造业"), ("制药有限公司", "医药制造业"), ("数据科技有限公司", "信息传输、软件和信息技术服务业"),
)
FARM_TRADES = (("农业专业合作社", "农业"), ("水产养殖场", "渔业"), ("果蔬种植基地", "农业"), ("畜禽养殖场", "畜牧业"))
ESTATES = (
    "锦绣花园", "翠湖苑", "碧水湾", "金色家园", "阳光新城", "海景花园", "丽景苑", "康乐小区", "华府", "君悦华庭",
    "东方明珠苑", "紫荆花园", "绿茵豪庭", "幸福里", "南湖小区", "城市花园", "桃源居", "银河湾", "星河丹堤", "滨江苑",
)
VILLAGES = ("东村", "西村", "南坑村", "大围村", "新塘村", "沙头村", "石岗村", "高田村", "莲塘村", "龙湾村")
MOBILE_PREFIXES = ("134", "135", "136", "137", "138", "139", "147", "150", "151", "152", "157", "158", "159", "182",
                   "183", "187", "188", "130", "131", "132", "155", "156", "166", "185", "186", "133", "153", "173",
                   "177", "180", "181", "189", "199")
AREA_CODES = {"广州": "020", "深圳": "0755", "佛山": "0757", "杭州": "0571", "宁波": "0574", "武汉": "027",
              "宜昌": "0717"}
# Secondary CT ratios (x/5 A) from the standard series; the chosen one carries the full-load current.
CT_PRIMARIES = (10, 15, 20, 30, 40, 50, 75, 100, 150, 200, 300, 400, 600)


@dataclass
class Station:
    code: str
    name: str
    area: str  # tariff area of the province: GD / ZJ / HB
    res_area: str  # residential tariff area: GZ / SZ / ZJ
    region: str  # 6-digit ID-card region code
    place: str  # 广州市番禺区
    town: str
    roads: list[str]
    city_short: str

    @property
    def area_code(self) -> str:
        return AREA_CODES[self.city_short]


@dataclass
class MeterSpec:
    asset_number: str
    ct: int
    pt: int
    digits: int
    registers: tuple[str, ...]
    installed_on: date


@dataclass
class PointSpec:
    code: str
    address: str
    voltage: str
    capacity: Decimal
    basis: str
    demand: Decimal | None
    grid_cell: str
    meter: MeterSpec


@dataclass
class AccountSpec:
    number: str
    category: str
    tariff_code: str
    household_members: int
    opened_on: date
    points: list[PointSpec]


@dataclass
class CustomerSpec:
    index: int
    external_id: str
    kind: str
    name: str
    id_type: str
    id_number: str
    phone: str
    email: str
    address: str
    industry: str
    station: Station
    accounts: list[AccountSpec]
    contacts: list[tuple[str, str, str]] = field(default_factory=list)  # (name, phone, role)
    authorised_on: tuple[int, str] | None = None  # (other customer's index, scope)


def stations() -> list[Station]:
    out = []
    for _pcode, _pname, area, _weight, cities in ORG_TREE:
        for _ccode, _cname, short, res_area, counties in cities:
            for kcode, _kname, region, place, towns in counties:
                for n, (town, roads) in enumerate(towns, start=1):
                    out.append(Station(f"{kcode}-{n:02d}", town, area, res_area, region, place,
                                       town.removesuffix("供电所"), roads, short))
    return out


def _weighted(rng: random.Random, pairs: Iterable[tuple[object, int]]):
    items, weights = zip(*pairs, strict=True)
    return rng.choices(items, weights=weights)[0]


def _person_name(rng: random.Random, surname: str | None = None) -> str:
    surname = surname or rng.choices(SURNAMES, weights=SURNAME_WEIGHTS)[0]
    return surname + "".join(rng.choice(GIVEN) for _ in range(1 if rng.random() < 0.3 else 2))


def _mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def _resident_id(rng: random.Random, region: str) -> str:
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 52))
    first17 = f"{region}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return first17 + resident_id_check_digit(first17)


def _uscc(rng: random.Random, region: str) -> str:
    body = "91" + region + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
    return body + uscc_check_char(body)


def _ct_for(kva: int, volts: int) -> int:
    amps = kva * 1000 / (1.732 * volts)
    return next((p for p in CT_PRIMARIES if p >= amps * 1.2), CT_PRIMARIES[-1]) // 5


def _home_address(rng: random.Random, st: Station) -> str:
    if rng.random() < 0.2:
        return f"{st.place}{st.town}镇{rng.choice(VILLAGES)}{rng.randint(1, 180)}号"
    return (f"{st.place}{rng.choice(st.roads)}{rng.randint(1, 999)}号{rng.choice(ESTATES)}"
            f"{rng.randint(1, 30)}栋{rng.randint(1, 4)}单元{rng.randint(1, 33)}{rng.randint(1, 8):02d}室")


def _business_address(rng: random.Random, st: Station) -> str:
    return f"{st.place}{rng.choice(st.roads)}{rng.randint(1, 2000)}号"


def customer_spec(*, seed: int, index: int, all_stations: list[Station]) -> CustomerSpec:
    """One demo customer, a pure function of (seed, index)."""
    rng = random.Random(f"{seed}:{index}")
    area = _weighted(rng, ((p[2], p[3]) for p in ORG_TREE))
    if index <= 2:  # the portal demo login and the relative whose account they may manage
        area = "GD"
    st = rng.choice([s for s in all_stations if s.area == area])
    if index <= 2:
        st = next(s for s in all_stations if s.name == "市桥供电所")
    category = _weighted(rng, CATEGORY_MIX[area]) if index > 2 else CustomerCategory.RESIDENTIAL
    acct_prefix = {"GD": "05", "ZJ": "33", "HB": "42"}[area]
    opened = date(2000, 1, 1) + timedelta(days=rng.randrange(26 * 365))
    kind, id_type, industry, email = Customer.Kind.PERSON, Customer.IdType.RESIDENT_ID, "", ""
    contacts: list[tuple[str, str, str]] = []
    if category == CustomerCategory.RESIDENTIAL:
        name = _person_name(rng)
        address = _home_address(rng, st)
    elif category == CustomerCategory.GENERAL_CI and rng.random() < 0.15:
        owner = _person_name(rng)
        trade, industry = rng.choice(SHOP_TRADES)
        name, address = owner, _business_address(rng, st)
        industry = f"{industry}（{trade}）"
    else:
        trades = {CustomerCategory.GENERAL_CI: CI_TRADES, CustomerCategory.LARGE_INDUSTRY: INDUSTRY_TRADES,
                  CustomerCategory.AGRICULTURE: FARM_TRADES}[category]
        trade, industry = rng.choice(trades)
        kind, id_type = Customer.Kind.ORGANISATION, Customer.IdType.USCC
        name = f"{st.city_short}市{rng.choice(COMPANY_WORDS)}{trade}"
        if category == CustomerCategory.AGRICULTURE:
            name = f"{st.place}{rng.choice(VILLAGES)}{rng.choice(COMPANY_WORDS)}{trade}"
        address = _business_address(rng, st)
    id_number = _uscc(rng, st.region) if id_type == Customer.IdType.USCC else _resident_id(rng, st.region)
    phone = _mobile(rng) if kind == Customer.Kind.PERSON or rng.random() < 0.3 else (
        f"{st.area_code}-{rng.randint(20000000, 89999999)}")
    if rng.random() < 0.25:
        email = f"{rng.randint(10**6, 10**10)}@{rng.choice(['qq.com', '163.com', '126.com'])}"
    if kind == Customer.Kind.ORGANISATION:
        for role in ("primary", "billing", "electrician")[: rng.randint(1, 3)]:
            contacts.append((_person_name(rng), _mobile(rng), role))
    elif rng.random() < 0.25:
        contacts.append((_person_name(rng, surname=name[0] if name[0] in SURNAMES else None), _mobile(rng),
                         "emergency"))

    n_accounts = 2 if category != CustomerCategory.RESIDENTIAL and rng.random() < 0.06 else 1
    accounts = []
    for k in range(n_accounts):
        number = f"{acct_prefix}{index:07d}{k}"
        tariff = TARIFFS[(st.res_area if category == CustomerCategory.RESIDENTIAL else area, category)]
        if category == CustomerCategory.RESIDENTIAL and rng.random() < RESIDENTIAL_TOU_SHARE[st.res_area]:
            tariff += "-tou"
        points = []
        n_points = 2 if category == CustomerCategory.LARGE_INDUSTRY and rng.random() < 0.1 else 1
        for j in range(n_points):
            installed = max(opened, date(2014, 1, 1)) + timedelta(days=rng.randrange(3 * 365))
            basis, demand = ServicePoint.BasicChargeBasis.NONE, None
            if category == CustomerCategory.RESIDENTIAL:
                three_phase = rng.random() < 0.15
                voltage = "380V" if three_phase else "220V"
                kva = rng.choice((12, 16, 20) if three_phase else (4, 6, 8, 10))
                ct, pt, digits = 1, 1, 6
                regs = ("total", "peak", "valley") if area == "ZJ" else ("total", "peak", "flat", "valley")
            elif area == "HB":
                voltage = "10kV"
                kva = rng.choice((630, 800, 1000, 1250, 1600, 2000, 2500, 3150, 4000, 5000)
                                 if category == CustomerCategory.LARGE_INDUSTRY else (315, 400, 500, 630, 800))
                basis = _weighted(rng, ((ServicePoint.BasicChargeBasis.CAPACITY, 55),
                                        (ServicePoint.BasicChargeBasis.DEMAND, 45)))
                if basis == ServicePoint.BasicChargeBasis.DEMAND:
                    demand = Decimal(max(int(kva * 0.4), int(kva * rng.uniform(0.45, 0.85)) // 10 * 10))
                ct, pt, digits = _ct_for(kva, 10000), 100, 8
                regs = ("total", "sharp", "peak", "flat", "valley", "reactive", "demand")
            else:
                voltage = "380V" if rng.random() < 0.9 else "220V"
                kva = rng.choice((10, 15, 20, 30, 50, 63, 80, 100, 125, 160, 200))
                if voltage == "220V":
                    kva = min(kva, 20)
                ct = 1 if kva <= 30 else _ct_for(kva, 380)
                pt, digits = 1, 6
                regs = ("total", "sharp", "peak", "flat", "valley", "reactive")
            cell = f"{st.town}网格{rng.randint(1, 12):02d}"
            point_address = address if j == 0 and k == 0 else (
                _business_address(rng, st) if kind == Customer.Kind.ORGANISATION else _home_address(rng, st))
            meter = MeterSpec(f"{number}{j}{rng.randint(10, 99)}", ct, pt, digits, regs, installed)
            points.append(PointSpec(f"SP{number}{j}", point_address, voltage, Decimal(kva), basis, demand, cell,
                                    meter))
        members = rng.choice((1, 2, 2, 3, 3, 3, 4, 4, 5, 6)) if category == CustomerCategory.RESIDENTIAL else 0
        accounts.append(AccountSpec(number, category, tariff, members, opened, points))

    authorised_on = None
    if index == 1:
        authorised_on = (2, Authorization.Scope.PAY)
    elif kind == Customer.Kind.PERSON and index > 3 and rng.random() < 0.04:
        authorised_on = (max(3, index - rng.randint(1, 50)), rng.choice(Authorization.Scope.values))
    return CustomerSpec(index, f"{EXTERNAL_PREFIX}{index:07d}", kind, name, id_type, id_number, phone, email,
                        address, industry, st, accounts, contacts, authorised_on)


# --- loading ----------------------------------------------------------------------------------------


def org_tree_ensure() -> dict[str, OrgUnit]:
    """Create the demo org tree where missing; return all its units by code."""
    existing = {u.code: u for u in OrgUnit.objects.all()}
    for pcode, pname, _area, _weight, cities in ORG_TREE:
        if pcode not in existing:
            existing[pcode] = org_unit_create(code=pcode, name=pname, level=OrgUnit.Level.PROVINCE)
        for ccode, cname, _short, _res, counties in cities:
            if ccode not in existing:
                existing[ccode] = org_unit_create(code=ccode, name=cname, level=OrgUnit.Level.CITY, parent_code=pcode)
            for kcode, kname, _region, _place, towns in counties:
                if kcode not in existing:
                    existing[kcode] = org_unit_create(code=kcode, name=kname, level=OrgUnit.Level.COUNTY,
                                                      parent_code=ccode)
                for n, (town, _roads) in enumerate(towns, start=1):
                    scode = f"{kcode}-{n:02d}"
                    if scode not in existing:
                        existing[scode] = org_unit_create(code=scode, name=town, level=OrgUnit.Level.STATION,
                                                          parent_code=kcode)
    return existing


# username, role, display name, org unit code (None: whole company)
DEMO_LOGINS = [
    ("admin", Role.ADMINISTRATOR, "系统管理员", None),
    ("clerk", Role.BILLING_CLERK, "李敏", "4401"),
    ("auditor", Role.AUDITOR, "王芳", "44"),
    ("approver", Role.APPROVER, "陈刚", "44"),
    ("cashier", Role.CASHIER, "刘洋", "4401"),
    ("agent", Role.AGENT, "黄婷", "4401"),
    ("supervisor", Role.SUPERVISOR, "周磊", "44"),
    ("manager", Role.ACCOUNT_MANAGER, "吴杰", "440113"),
    ("customer", Role.CUSTOMER, "", None),
]


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    display_name: str
    scope: str
    created: bool


def logins_ensure(*, units: dict[str, OrgUnit], as_of: datetime, password: str = DEMO_PASSWORD) -> list[DemoLogin]:
    """One login per role; existing ones are left as they are (their password is not reset)."""
    portal_customer = Customer.objects.filter(external_id=f"{EXTERNAL_PREFIX}{1:07d}").first()
    out = []
    password_hash = None
    for username, role, display, unit_code in DEMO_LOGINS:
        user = User.objects.filter(username=username).select_related("org_unit", "customer").first()
        created = False
        if user is None:
            if role == Role.CUSTOMER and portal_customer is None:
                continue
            # hash once: nine PBKDF2 rounds would cost seconds for the same password
            password_hash = password_hash or make_password(password)
            user = user_create(
                username=username, password=password_hash, password_is_hash=True, role=role,
                display_name=display or (portal_customer.name if portal_customer else username),
                org_unit_id=units[unit_code].pk if unit_code else None,
                customer_id=portal_customer.pk if role == Role.CUSTOMER and portal_customer else None,
                actor=None, as_of=as_of,
            )
            created = True
        if user.role == Role.CUSTOMER:
            scope = f"{user.customer.name if user.customer_id else '-'}"
        else:
            scope = user.org_unit.name if user.org_unit_id else "全公司"
        out.append(DemoLogin(username, user.role, user.display_name, scope, created))
    return out


@dataclass(frozen=True)
class DemoResult:
    requested: int
    created_customers: int
    created_accounts: int
    created_meters: int
    logins: list[DemoLogin]


def _write_chunk(specs: list[CustomerSpec], units: dict[str, OrgUnit], as_of: datetime) -> tuple[int, int]:
    customers = [
        Customer(external_id=s.external_id, kind=s.kind, name=s.name, id_type=s.id_type, id_number=s.id_number,
                 phone=s.phone, email=s.email, address=s.address, org_unit=units[s.station.code], industry=s.industry,
                 created_at=as_of, updated_at=as_of)
        for s in specs
    ]
    Customer.objects.bulk_create(customers)
    accounts, account_specs = [], []
    for spec, cust in zip(specs, customers, strict=True):
        for a in spec.accounts:
            accounts.append(Account(number=a.number, customer=cust, org_unit=cust.org_unit, category=a.category,
                                    tariff_code=a.tariff_code, household_members=a.household_members,
                                    opened_on=a.opened_on))
            account_specs.append(a)
    Account.objects.bulk_create(accounts)
    points, point_specs = [], []
    for a_spec, acct in zip(account_specs, accounts, strict=True):
        for p in a_spec.points:
            points.append(ServicePoint(
                account=acct, code=p.code, address=p.address, voltage_level=p.voltage, category=a_spec.category,
                basic_charge_basis=p.basis, contracted_capacity_kva=p.capacity, contract_demand_kw=p.demand,
                industry="", org_unit=acct.org_unit, grid_cell=p.grid_cell,
            ))
            point_specs.append(p)
    ServicePoint.objects.bulk_create(points)
    meters = [
        Meter(asset_number=p.meter.asset_number, service_point=pt, ct_ratio=Decimal(p.meter.ct),
              pt_ratio=Decimal(p.meter.pt), multiplier=Decimal(p.meter.ct * p.meter.pt), digits=p.meter.digits,
              installed_on=p.meter.installed_on, status=Meter.Status.INSTALLED)
        for p, pt in zip(point_specs, points, strict=True)
    ]
    Meter.objects.bulk_create(meters)
    MeterRegister.objects.bulk_create([
        MeterRegister(meter=m, code=code) for p, m in zip(point_specs, meters, strict=True) for code in p.meter.registers
    ])
    Contact.objects.bulk_create([
        Contact(customer=cust, name=name, phone=phone, role=role)
        for spec, cust in zip(specs, customers, strict=True) for name, phone, role in spec.contacts
    ])
    return len(accounts), len(meters)


def _authorisations_write(specs: list[CustomerSpec]) -> int:
    wanted = [(s.external_id, f"{EXTERNAL_PREFIX}{s.authorised_on[0]:07d}", s.authorised_on[1], s.accounts[0].opened_on)
              for s in specs if s.authorised_on]
    if not wanted:
        return 0
    people = dict(Customer.objects.filter(external_id__in=[w[0] for w in wanted]).values_list("external_id", "pk"))
    first_accounts = {}
    for ext, acct_id in (Account.objects.filter(customer__external_id__in=[w[1] for w in wanted])
                         .order_by("number").values_list("customer__external_id", "pk")):
        first_accounts.setdefault(ext, acct_id)
    rows = [Authorization(person_id=people[p], account_id=first_accounts[h], scope=scope, valid_from=since)
            for p, h, scope, since in wanted if p in people and h in first_accounts]
    Authorization.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def demo_load(*, customers: int, seed: int = DEFAULT_SEED, as_of: datetime,
              progress: Callable[[int], None] | None = None) -> DemoResult:
    """Ensure demo customers 1..N exist; create only those missing. `progress(n)` is called per chunk."""
    units = org_tree_ensure()
    all_stations = stations()
    present = set(Customer.objects.filter(external_id__startswith=EXTERNAL_PREFIX)
                  .values_list("external_id", flat=True))
    missing = [i for i in range(1, customers + 1) if f"{EXTERNAL_PREFIX}{i:07d}" not in present]
    if progress:
        progress(customers - len(missing))
    n_accounts = n_meters = 0
    created_specs: list[CustomerSpec] = []
    for start in range(0, len(missing), CHUNK):
        specs = [customer_spec(seed=seed, index=i, all_stations=all_stations) for i in missing[start:start + CHUNK]]
        with transaction.atomic():
            a, m = _write_chunk(specs, units, as_of)
        n_accounts += a
        n_meters += m
        created_specs.extend(s for s in specs if s.authorised_on)
        if progress:
            progress(len(specs))
    with transaction.atomic():
        n_auth = _authorisations_write(created_specs)
        if missing:
            audit_record(actor=None, action=AuditEvent.Action.CREATE, object_type="demo_data", object_id=seed,
                         summary=f"demo data loaded: {len(missing)} customers (1..{customers}, seed {seed})", at=as_of,
                         after={"customers": len(missing), "accounts": n_accounts, "meters": n_meters,
                                "authorizations": n_auth, "seed": seed})
    logins = logins_ensure(units=units, as_of=as_of)
    return DemoResult(customers, len(missing), n_accounts, n_meters, logins)
