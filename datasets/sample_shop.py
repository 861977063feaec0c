"""A small, realistic, deterministic shop of the project's own, with planted user interests.

Items get titles (brand + adjective + product noun + spec), in English or in Chinese
(the same shop, worded in that language), across a category
tree, log-normal prices per category and a description. Users belong to one or two
themes (a woodworker, a home cook, ...) that give them interests in one to three leaf
categories and a price sensitivity; their sessions over six months search with query
text drawn from those interests (with case variants and typos), view and click items,
add some to the cart and buy fewer, so items of one category (and of one theme) are
linked by co-purchase. Activity per user is heavy-tailed. The same seed gives the same
files, byte for byte.

With ``social`` (the default) users also follow, befriend, share with and invite each other
(``social.<format>``), with planted homophily: a link joins users who share a planted interest
more often than chance would, not always. The links are drawn from a random stream of their own,
so the items and events are the same with or without them.
"""
from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from personagraph.errors import PersonaGraphError
from personagraph.shop.shop_data import ShopData
from personagraph.shop.shop_reader import EVENT_COLUMNS, ITEM_COLUMNS, SOCIAL_COLUMNS, TABLE_FORMATS, shop_from_rows


@dataclass(frozen=True)
class _Area:
    """A top-level area: its brands, words and leaf categories (path, noun, specs, median price)."""

    name: str
    brands: tuple[str, ...]
    adjectives: tuple[str, ...]
    uses: tuple[str, ...]
    leaves: tuple[tuple[str, str, tuple[str, ...], float], ...]


AREAS: tuple[_Area, ...] = (
    _Area("Tools", ("Voltaro", "Hartwell", "Ironbark", "Stanwick", "Koda"),
          ("Cordless", "Heavy-Duty", "Compact", "Professional", "Brushless", "Ergonomic"),
          ("woodworking", "home renovation", "metal work"), (
        ("Power Tools > Drills", "Drill Driver", ("18V Kit", "12V", "with 2 Batteries", "Hammer Action"), 110.0),
        ("Power Tools > Saws", "Circular Saw", ("185 mm", "1400W", "with Laser Guide", "Plunge Cut"), 140.0),
        ("Power Tools > Sanders", "Orbital Sander", ("125 mm", "300W", "with Dust Bag", "Variable Speed"), 75.0),
        ("Hand Tools > Hammers", "Claw Hammer", ("16 oz", "20 oz", "Fibreglass Handle", "Anti-Vibration"), 22.0),
        ("Hand Tools > Screwdrivers", "Screwdriver Set", ("6 Piece", "12 Piece", "Magnetic Tips", "Precision"), 25.0),
        ("Hand Tools > Wrenches", "Adjustable Wrench", ("8 inch", "10 inch", "Wide Jaw", "Set of 3"), 28.0),
        ("Sanding > Rolls", "Sanding Roll", ("P120 5 m", "P80 10 m", "P240 25 m", "Mixed Grit"), 18.0),
        ("Sanding > Discs", "Sanding Disc Pack", ("125 mm P80", "125 mm P120", "Hook and Loop 50 Pack", "Mesh"), 15.0),
    )),
    _Area("Lab", ("Labwise", "Pyrolab", "Meridian Scientific", "Vitrum", "Cleargrade"),
          ("Borosilicate", "Graduated", "Autoclavable", "Chemical-Resistant", "Precision", "Disposable"),
          ("teaching labs", "chemistry", "sample preparation"), (
        ("Glassware > Beakers", "Beaker", ("250 ml", "500 ml", "1000 ml", "Set of 5"), 18.0),
        ("Glassware > Flasks", "Erlenmeyer Flask", ("100 ml", "250 ml", "500 ml", "Narrow Neck"), 16.0),
        ("Glassware > Test Tubes", "Test Tube Set", ("16 x 150 mm", "Pack of 100", "with Rack", "Screw Cap"), 20.0),
        ("Liquid Handling > Pipettes", "Micropipette", ("10-100 ul", "100-1000 ul", "Single Channel", "8 Channel"), 160.0),
        ("Liquid Handling > Pipette Tips", "Pipette Tips", ("200 ul Pack of 1000", "1000 ul Racked", "Filtered", "Sterile"), 30.0),
        ("Safety > Gloves", "Nitrile Gloves", ("Size M Box of 100", "Size L Box of 100", "Powder-Free", "Extended Cuff"), 14.0),
        ("Safety > Goggles", "Safety Goggles", ("Anti-Fog", "Indirect Vent", "Over-Glasses", "UV Protection"), 12.0),
        ("Instruments > Scales", "Analytical Balance", ("0.001 g", "220 g", "with Calibration Weight", "Compact"), 420.0),
        ("Instruments > pH Meters", "pH Meter", ("Pocket", "Benchtop", "with Buffer Solutions", "Waterproof"), 65.0),
    )),
    _Area("Kitchen", ("Casaroma", "Ferrum & Co", "Brightbake", "Oakhaus", "Nordkoch"),
          ("Non-Stick", "Stainless Steel", "Cast Iron", "Induction-Ready", "Dishwasher-Safe", "Classic"),
          ("everyday cooking", "baking", "family meals"), (
        ("Cookware > Frying Pans", "Frying Pan", ("24 cm", "28 cm", "with Lid", "Set of 2"), 40.0),
        ("Cookware > Saucepans", "Saucepan", ("16 cm", "20 cm", "Set of 3", "with Glass Lid"), 45.0),
        ("Cookware > Dutch Ovens", "Dutch Oven", ("4 l", "6 l", "Enamelled", "Round"), 90.0),
        ("Knives > Chef Knives", "Chef Knife", ("20 cm", "Damascus Steel", "with Sheath", "Santoku Style"), 60.0),
        ("Knives > Knife Sharpeners", "Knife Sharpener", ("Whetstone 1000/6000", "3-Stage", "Electric", "Honing Rod"), 25.0),
        ("Appliances > Blenders", "Blender", ("1200W", "1.5 l Jug", "with To-Go Cups", "High Speed"), 85.0),
        ("Appliances > Kettles", "Electric Kettle", ("1.7 l", "Temperature Control", "Cordless", "Glass"), 35.0),
        ("Appliances > Coffee Makers", "Coffee Maker", ("12 Cup", "with Grinder", "Pour-Over", "Espresso 15 bar"), 110.0),
    )),
    _Area("Garden", ("Greenlea", "Terravida", "Hedgecraft", "Bloomfield", "Rainmaker"),
          ("Weatherproof", "Lightweight", "Expandable", "Organic", "Galvanised", "Frost-Proof"),
          ("vegetable gardens", "lawns", "balcony plants"), (
        ("Watering > Hoses", "Garden Hose", ("15 m", "30 m", "with Spray Gun", "Kink-Free"), 35.0),
        ("Watering > Sprinklers", "Lawn Sprinkler", ("Oscillating", "Rotating", "Timer Controlled", "360 Degree"), 25.0),
        ("Planting > Seeds", "Seed Collection", ("Tomato 6 Varieties", "Herb Mix", "Wildflower", "Salad Leaves"), 8.0),
        ("Planting > Pots", "Plant Pot", ("30 cm", "Set of 3", "Self-Watering", "Terracotta"), 20.0),
        ("Planting > Compost", "Compost", ("40 l", "Peat-Free 50 l", "Seed Starting", "Ericaceous"), 12.0),
        ("Garden Tools > Pruners", "Pruning Shears", ("Bypass", "Anvil", "Ratchet", "Telescopic"), 24.0),
        ("Garden Tools > Rakes", "Garden Rake", ("16 Tine", "Leaf", "Telescopic Handle", "Steel Head"), 22.0),
    )),
    _Area("Electronics", ("Lumatek", "Sonique", "Kestrel", "Ampline", "Novabyte"),
          ("Wireless", "Noise-Cancelling", "Ultra-Slim", "Fast-Charging", "Bluetooth", "Backlit"),
          ("home offices", "gaming", "travel"), (
        ("Audio > Headphones", "Headphones", ("Over-Ear", "40 h Battery", "with Microphone", "Foldable"), 80.0),
        ("Audio > Speakers", "Portable Speaker", ("20W", "Waterproof IPX7", "Stereo Pair", "with Radio"), 55.0),
        ("Computer Accessories > Keyboards", "Keyboard", ("Mechanical", "Tenkeyless", "UK Layout", "Low Profile"), 60.0),
        ("Computer Accessories > Mice", "Mouse", ("Ergonomic Vertical", "16000 DPI", "Silent Click", "Travel"), 30.0),
        ("Computer Accessories > USB Hubs", "USB-C Hub", ("7-in-1", "with HDMI 4K", "4 Port", "100W PD"), 35.0),
        ("Power > Batteries", "Rechargeable Batteries", ("AA Pack of 8", "AAA Pack of 4", "2800 mAh", "Low Self-Discharge"), 20.0),
        ("Power > Chargers", "Wall Charger", ("65W GaN", "Dual Port", "USB-C 30W", "Travel Adapter"), 30.0),
    )),
    _Area("Office", ("Quillmark", "Paperhaus", "Ledger & Line", "Inkwell", "Deskly"),
          ("Recycled", "A4", "Refillable", "Fine-Tip", "Heavyweight", "Stackable"),
          ("offices", "school", "note taking"), (
        ("Paper > Notebooks", "Notebook", ("A5 Dotted", "A4 Ruled", "Hardcover 192 Pages", "Pack of 3"), 12.0),
        ("Paper > Printer Paper", "Printer Paper", ("80 gsm 500 Sheets", "Box of 5 Reams", "100 gsm", "Colour Mix"), 25.0),
        ("Writing > Pens", "Gel Pen Set", ("0.5 mm", "Pack of 10", "Black Ink", "Assorted Colours"), 9.0),
        ("Writing > Markers", "Whiteboard Markers", ("Pack of 4", "Chisel Tip", "Low Odour", "Magnetic Cap"), 8.0),
        ("Organisation > Folders", "Ring Binder", ("A4 2 Ring", "Lever Arch", "Pack of 5", "Presentation"), 10.0),
        ("Organisation > Desk Organisers", "Desk Organiser", ("Bamboo", "Mesh 5 Compartment", "Drawer Set", "Rotating"), 20.0),
    )),
    _Area("Outdoors", ("Trailhead", "Northpeak", "Cascadia", "Velocita", "Summitry"),
          ("Ultralight", "Waterproof", "Insulated", "Reflective", "Breathable", "Packable"),
          ("hiking", "camping trips", "commuting"), (
        ("Camping > Tents", "Tent", ("2 Person", "4 Person", "Pop-Up", "3 Season"), 130.0),
        ("Camping > Sleeping Bags", "Sleeping Bag", ("-5 C Comfort", "Mummy", "Down Fill", "Double"), 70.0),
        ("Camping > Headlamps", "Headlamp", ("400 Lumen", "Rechargeable", "Red Light Mode", "Motion Sensor"), 25.0),
        ("Fitness > Yoga Mats", "Yoga Mat", ("6 mm", "Non-Slip", "with Carry Strap", "Cork"), 30.0),
        ("Fitness > Dumbbells", "Dumbbell Set", ("2 x 5 kg", "Adjustable 20 kg", "Neoprene", "Hex"), 50.0),
        ("Cycling > Bike Lights", "Bike Light Set", ("USB Rechargeable", "800 Lumen", "Tail Light", "Helmet Mount"), 28.0),
        ("Cycling > Helmets", "Cycling Helmet", ("Size M", "MIPS", "with Visor", "Road"), 65.0),
    )),
)

#: Personas that tie leaf categories together, possibly across areas (woodworkers buy goggles too).
THEMES: tuple[tuple[str, ...], ...] = (
    ("Tools > Power Tools > Drills", "Tools > Power Tools > Saws", "Tools > Power Tools > Sanders",
     "Tools > Sanding > Rolls", "Tools > Sanding > Discs", "Lab > Safety > Goggles"),
    ("Tools > Hand Tools > Hammers", "Tools > Hand Tools > Screwdrivers", "Tools > Hand Tools > Wrenches",
     "Tools > Power Tools > Drills", "Electronics > Power > Batteries"),
    ("Lab > Glassware > Beakers", "Lab > Glassware > Flasks", "Lab > Glassware > Test Tubes",
     "Lab > Safety > Gloves", "Lab > Safety > Goggles", "Lab > Instruments > pH Meters"),
    ("Lab > Liquid Handling > Pipettes", "Lab > Liquid Handling > Pipette Tips", "Lab > Instruments > Scales",
     "Lab > Safety > Gloves"),
    ("Kitchen > Cookware > Frying Pans", "Kitchen > Cookware > Saucepans", "Kitchen > Cookware > Dutch Ovens",
     "Kitchen > Knives > Chef Knives", "Kitchen > Knives > Knife Sharpeners"),
    ("Kitchen > Appliances > Blenders", "Kitchen > Appliances > Kettles", "Kitchen > Appliances > Coffee Makers"),
    ("Garden > Watering > Hoses", "Garden > Watering > Sprinklers", "Garden > Garden Tools > Rakes",
     "Garden > Garden Tools > Pruners"),
    ("Garden > Planting > Seeds", "Garden > Planting > Pots", "Garden > Planting > Compost",
     "Kitchen > Knives > Chef Knives"),
    ("Electronics > Computer Accessories > Keyboards", "Electronics > Computer Accessories > Mice",
     "Electronics > Computer Accessories > USB Hubs", "Electronics > Power > Chargers",
     "Office > Organisation > Desk Organisers"),
    ("Electronics > Audio > Headphones", "Electronics > Audio > Speakers", "Electronics > Power > Chargers",
     "Outdoors > Fitness > Yoga Mats"),
    ("Office > Paper > Notebooks", "Office > Writing > Pens", "Office > Writing > Markers",
     "Office > Organisation > Folders", "Office > Paper > Printer Paper"),
    ("Outdoors > Camping > Tents", "Outdoors > Camping > Sleeping Bags", "Outdoors > Camping > Headlamps",
     "Electronics > Power > Batteries"),
    ("Outdoors > Cycling > Bike Lights", "Outdoors > Cycling > Helmets", "Outdoors > Fitness > Dumbbells",
     "Outdoors > Fitness > Yoga Mats"),
)

AREAS_ZH: tuple[_Area, ...] = (
    _Area("工具", ("锐工", "铁木", "汉威", "坚石", "科达"),
          ("无绳", "重型", "紧凑型", "专业级", "无刷", "人体工学"),
          ("木工", "家装翻新", "金属加工"), (
        ("电动工具 > 电钻", "电钻", ("18V套装", "12V", "配两块电池", "冲击功能"), 110.0),
        ("电动工具 > 电锯", "圆锯", ("185毫米", "1400瓦", "带激光导向", "切入式"), 140.0),
        ("电动工具 > 砂光机", "砂光机", ("125毫米", "300瓦", "带集尘袋", "无级变速"), 75.0),
        ("手动工具 > 锤子", "羊角锤", ("16盎司", "20盎司", "玻璃纤维柄", "防震"), 22.0),
        ("手动工具 > 螺丝刀", "螺丝刀套装", ("6件套", "12件套", "磁性刀头", "精密"), 25.0),
        ("手动工具 > 扳手", "活动扳手", ("8英寸", "10英寸", "宽开口", "3件套"), 28.0),
        ("砂磨耗材 > 砂纸卷", "砂纸卷", ("P120 5米", "P80 10米", "P240 25米", "混合粒度"), 18.0),
        ("砂磨耗材 > 砂盘", "砂盘", ("125毫米 P80", "125毫米 P120", "植绒背胶50片装", "网格"), 15.0),
    )),
    _Area("实验室", ("博实", "精诚", "华科", "晶玻", "明析"),
          ("高硼硅", "带刻度", "可高压灭菌", "耐化学腐蚀", "高精度", "一次性"),
          ("教学实验室", "化学实验", "样品制备"), (
        ("玻璃器皿 > 烧杯", "烧杯", ("250毫升", "500毫升", "1000毫升", "5只装"), 18.0),
        ("玻璃器皿 > 烧瓶", "锥形瓶", ("100毫升", "250毫升", "500毫升", "窄口"), 16.0),
        ("玻璃器皿 > 试管", "试管套装", ("16×150毫米", "100支装", "带试管架", "螺口"), 20.0),
        ("移液设备 > 移液器", "微量移液器", ("10-100微升", "100-1000微升", "单通道", "8通道"), 160.0),
        ("移液设备 > 移液器吸头", "移液器吸头", ("200微升1000支装", "1000微升盒装", "带滤芯", "无菌"), 30.0),
        ("安全防护 > 手套", "丁腈手套", ("M码100只装", "L码100只装", "无粉", "加长袖口"), 14.0),
        ("安全防护 > 护目镜", "安全护目镜", ("防雾", "间接通风", "可戴眼镜", "防紫外线"), 12.0),
        ("仪器 > 天平", "分析天平", ("0.001克", "220克", "附校准砝码", "紧凑型"), 420.0),
        ("仪器 > pH计", "pH计", ("便携式", "台式", "附缓冲液", "防水"), 65.0),
    )),
    _Area("厨房", ("家味", "铁匠坊", "焙乐", "橡木家", "北厨"),
          ("不粘", "不锈钢", "铸铁", "电磁炉适用", "可洗碗机清洗", "经典"),
          ("日常烹饪", "烘焙", "家庭聚餐"), (
        ("锅具 > 煎锅", "煎锅", ("24厘米", "28厘米", "带锅盖", "两件套"), 40.0),
        ("锅具 > 汤锅", "汤锅", ("16厘米", "20厘米", "三件套", "带玻璃盖"), 45.0),
        ("锅具 > 炖锅", "铸铁炖锅", ("4升", "6升", "搪瓷", "圆形"), 90.0),
        ("刀具 > 厨师刀", "厨师刀", ("20厘米", "大马士革钢", "带刀套", "三德刀款"), 60.0),
        ("刀具 > 磨刀器", "磨刀器", ("1000/6000目磨刀石", "三段式", "电动", "磨刀棒"), 25.0),
        ("厨房电器 > 料理机", "破壁料理机", ("1200瓦", "1.5升杯", "带随行杯", "高速"), 85.0),
        ("厨房电器 > 电水壶", "电水壶", ("1.7升", "控温", "无线", "玻璃"), 35.0),
        ("厨房电器 > 咖啡机", "咖啡机", ("12杯", "带研磨", "手冲式", "15巴意式"), 110.0),
    )),
    _Area("园艺", ("绿野", "土生", "篱匠", "花田", "雨师"),
          ("耐候", "轻便", "可伸缩", "有机", "镀锌", "防冻"),
          ("菜园", "草坪", "阳台植物"), (
        ("浇灌 > 水管", "花园水管", ("15米", "30米", "带喷枪", "防缠绕"), 35.0),
        ("浇灌 > 洒水器", "草坪洒水器", ("摆动式", "旋转式", "定时控制", "360度"), 25.0),
        ("种植 > 种子", "种子组合", ("番茄6个品种", "香草混合", "野花", "沙拉菜"), 8.0),
        ("种植 > 花盆", "花盆", ("30厘米", "三只装", "自吸水", "陶土"), 20.0),
        ("种植 > 营养土", "营养土", ("40升", "无泥炭50升", "育苗专用", "酸性"), 12.0),
        ("园艺工具 > 修枝剪", "修枝剪", ("平口", "砧式", "棘轮", "伸缩"), 24.0),
        ("园艺工具 > 耙子", "园艺耙", ("16齿", "落叶", "伸缩柄", "钢头"), 22.0),
    )),
    _Area("数码电子", ("光科", "声韵", "隼鹰", "安普", "新比特"),
          ("无线", "降噪", "超薄", "快充", "蓝牙", "背光"),
          ("居家办公", "游戏", "旅行"), (
        ("音频 > 耳机", "耳机", ("头戴式", "40小时续航", "带麦克风", "可折叠"), 80.0),
        ("音频 > 音箱", "便携音箱", ("20瓦", "IPX7防水", "立体声对箱", "带收音机"), 55.0),
        ("电脑配件 > 键盘", "键盘", ("机械", "87键", "全尺寸", "矮轴"), 60.0),
        ("电脑配件 > 鼠标", "鼠标", ("垂直人体工学", "16000 DPI", "静音", "便携"), 30.0),
        ("电脑配件 > 扩展坞", "USB-C扩展坞", ("7合1", "带4K HDMI", "4口", "100瓦PD"), 35.0),
        ("电源 > 电池", "充电电池", ("5号8节装", "7号4节装", "2800毫安时", "低自放电"), 20.0),
        ("电源 > 充电器", "充电器", ("65瓦氮化镓", "双口", "USB-C 30瓦", "旅行转换插头"), 30.0),
    )),
    _Area("办公用品", ("书羽", "纸屋", "格线", "墨池", "桌立"),
          ("再生纸", "A4", "可替换芯", "细头", "加厚", "可叠放"),
          ("办公室", "学校", "记笔记"), (
        ("纸品 > 笔记本", "笔记本", ("A5点阵", "A4横线", "精装192页", "3本装"), 12.0),
        ("纸品 > 打印纸", "打印纸", ("80克500张", "5包整箱", "100克", "彩色混装"), 25.0),
        ("书写工具 > 中性笔", "中性笔套装", ("0.5毫米", "10支装", "黑色", "多色"), 9.0),
        ("书写工具 > 白板笔", "白板笔", ("4支装", "斜头", "低气味", "磁性笔帽"), 8.0),
        ("收纳整理 > 文件夹", "活页夹", ("A4双孔", "拱形夹", "5个装", "演示用"), 10.0),
        ("收纳整理 > 桌面收纳", "桌面收纳盒", ("竹制", "网格5格", "抽屉式", "旋转"), 20.0),
    )),
    _Area("户外运动", ("行迹", "北峰", "峡山", "疾风", "登峰"),
          ("超轻", "防水", "保暖", "反光", "透气", "便携"),
          ("徒步", "露营", "通勤"), (
        ("露营 > 帐篷", "帐篷", ("双人", "四人", "速开", "三季"), 130.0),
        ("露营 > 睡袋", "睡袋", ("舒适温度-5°C", "木乃伊式", "羽绒填充", "双人"), 70.0),
        ("露营 > 头灯", "头灯", ("400流明", "可充电", "红光模式", "感应"), 25.0),
        ("健身 > 瑜伽垫", "瑜伽垫", ("6毫米", "防滑", "带背带", "软木"), 30.0),
        ("健身 > 哑铃", "哑铃套装", ("2×5公斤", "可调20公斤", "包胶", "六角"), 50.0),
        ("骑行 > 车灯", "自行车灯套装", ("USB充电", "800流明", "尾灯", "头盔支架"), 28.0),
        ("骑行 > 头盔", "骑行头盔", ("M码", "MIPS", "带帽檐", "公路"), 65.0),
    )),
)


@dataclass(frozen=True)
class _Language:
    """How one language words the shop: its areas (same tree, in the same order as
    :data:`AREAS`), item titles and descriptions, and the search texts for a leaf."""

    areas: tuple[_Area, ...]
    title: Callable[[str, str, str, str], str]  # brand, adjective, noun, spec
    description: Callable[[str, str, str, str, str], str]  # brand, adjective, noun, spec, use
    queries: Callable[[list[str], str, str], list[str]]  # leaf path parts, noun, adjective


def _english_description(brand: str, adjective: str, noun: str, spec: str, use: str) -> str:
    article = "An" if adjective[0] in "AEIOU" else "A"
    return f"{article} {adjective.lower()} {noun.lower()} ({spec}) by {brand}, made for {use}."


LANGUAGES: dict[str, _Language] = {
    "en": _Language(
        AREAS,
        title=lambda brand, adjective, noun, spec: f"{brand} {adjective} {noun} {spec}",
        description=_english_description,
        queries=lambda parts, noun, adjective: [
            parts[-1].lower(), noun.lower(), f"{noun.lower()}s", parts[1].lower(),
            f"{adjective.lower()} {noun.lower()}"],
    ),
    "zh": _Language(
        AREAS_ZH,
        title=lambda brand, adjective, noun, spec: f"{brand} {adjective}{noun} {spec}",
        description=lambda brand, adjective, noun, spec, use: f"{brand}出品的{adjective}{noun}（{spec}），适用于{use}。",
        queries=lambda parts, noun, adjective: [
            parts[-1], noun, parts[1], f"{adjective}{noun}", f"{parts[-1]} {adjective}"],
    ),
}

#: The logs cover six months from here.
START = datetime(2025, 1, 1, tzinfo=timezone.utc).timestamp()
SPAN_SECONDS = 181 * 24 * 3600
PRICE_SIGMA = 0.45  # spread of log price within a category
#: Relations of the planted links and how often each is drawn.
SOCIAL_RELATIONS: dict[str, float] = {"follows": 0.5, "friend": 0.35, "shared_with": 0.1, "invited": 0.05}
#: Share of a user's links drawn among users who share one of their planted interests (the rest at random).
SOCIAL_HOMOPHILY = 0.7
SOCIAL_LINKS_PER_USER = 2.0  # mean
#: From this many users on, the shop is drawn column by column (``vectorised_sample_shop``): minutes
#: instead of hours for a million users, but not the files this module's row-by-row drawing gives.
VECTORISED_FROM_USERS = 50_000


@dataclass
class SampleShop:
    """A generated shop and the truth planted in it.

    ``interests`` maps each user id to the leaf category paths it was given and their
    weights (summing to 1); ``price_sensitivity`` is in [0, 1] (1 = prefers cheap items).
    ``files`` lists what was written (empty when nothing was).
    """

    shop: ShopData
    interests: dict[str, dict[str, float]]
    price_sensitivity: dict[str, float]
    files: list[Path] = field(default_factory=list)


@dataclass
class _Catalogue:
    """Generated items as columns, plus per-leaf item lists for fast sampling."""

    rows: list[dict[str, object]]
    leaf_items: dict[str, np.ndarray]  # leaf path -> item indices
    popularity: np.ndarray  # per item, relative
    log_price_z: np.ndarray  # per item, how expensive for its category (0 when unknown)
    brand: list[str]
    adjective: list[str]


def generate_sample_shop(
    out_dir: str | Path | None = None,
    *,
    users: int = 3000,
    items: int = 1000,
    seed: int = 0,
    fmt: str = "csv",
    lang: str = "en",
    progress: bool = False,
    social: bool = True,
) -> SampleShop:
    """Generate the sample shop; write ``items.<fmt>``, ``events.<fmt>`` (and with ``social``,
    ``social.<fmt>``) to ``out_dir`` if given.

    ``lang`` (a key of :data:`LANGUAGES`) words titles, descriptions, categories, brands
    and queries; ``interests`` then name the leaf categories in that language.

    The rows pass through the same validation as :func:`read_shop`, so the returned
    ``shop`` equals what reading the written files gives.
    """
    if fmt not in TABLE_FORMATS:
        raise PersonaGraphError(f"unknown format {fmt!r}; use one of {', '.join(TABLE_FORMATS)}")
    if lang not in LANGUAGES:
        raise PersonaGraphError(f"unknown language {lang!r}; use one of {', '.join(LANGUAGES)}")
    if users < 1 or items < 1:
        raise PersonaGraphError("the sample needs at least one user and one item")
    if users >= VECTORISED_FROM_USERS:
        from personagraph.datasets.vectorised_sample_shop import generate_vectorised_shop

        return generate_vectorised_shop(out_dir, users, items, seed, fmt, lang, progress)
    rng = np.random.default_rng(seed)
    language = LANGUAGES[lang]
    catalogue = _generate_items(rng, items, language)
    events, interests, sensitivity = _generate_events(rng, catalogue, users, language, progress)
    links = _generate_social(np.random.default_rng([seed, 1]), interests) if social else None
    shop = shop_from_rows(catalogue.rows, events, social=links)
    files = _write(Path(out_dir), fmt, catalogue.rows, events, links) if out_dir is not None else []
    return SampleShop(shop=shop, interests=interests, price_sensitivity=sensitivity, files=files)


def _leaves(areas: tuple[_Area, ...]) -> list[tuple[_Area, str, str, tuple[str, ...], float]]:
    return [(area, f"{area.name} > {path}", noun, specs, price)
            for area in areas for path, noun, specs, price in area.leaves]


def _themes(language: _Language) -> list[list[str]]:
    """:data:`THEMES` with each leaf path in ``language`` (its leaves are in the English order)."""
    worded = dict(zip((path for _, path, *_ in _leaves(AREAS)), (path for _, path, *_ in _leaves(language.areas))))
    return [[worded[path] for path in theme] for theme in THEMES]


def _generate_items(rng: np.random.Generator, count: int, language: _Language) -> _Catalogue:
    leaves = _leaves(language.areas)
    # every leaf gets an item while there are enough, the rest go to leaves of uneven size
    sizes = np.zeros(len(leaves), dtype=np.int64)
    sizes[rng.permutation(len(leaves))[: min(count, len(leaves))]] = 1
    weights = rng.gamma(2.0, 1.0, len(leaves))
    sizes += rng.multinomial(count - int(sizes.sum()), weights / weights.sum())
    width = len(str(count))
    rows: list[dict[str, object]] = []
    leaf_items: dict[str, np.ndarray] = {}
    popularity, log_price_z, brands, adjectives = [], [], [], []
    for (area, path, noun, specs, median), size in zip(leaves, sizes):
        leaf_items[path] = np.arange(len(rows), len(rows) + size)
        ranks = rng.permutation(size) + 1
        for rank in ranks:
            brand = str(rng.choice(area.brands))
            adjective = str(rng.choice(area.adjectives))
            spec = str(rng.choice(specs))
            z = float(rng.normal())
            price = round(float(median * np.exp(PRICE_SIGMA * z)), 2)
            price = max(round(price) - 0.01, 0.49) if price >= 5 else price
            known_price = rng.random() >= 0.02
            use = str(rng.choice(area.uses))
            rows.append({
                "item_id": f"i{len(rows) + 1:0{width}d}",
                "title": language.title(brand, adjective, noun, spec),
                "description": language.description(brand, adjective, noun, spec, use),
                "category": path,
                "brand": brand,
                "price": price if known_price else None,
            })
            popularity.append(1.0 / rank)
            log_price_z.append(z if known_price else 0.0)
            brands.append(brand)
            adjectives.append(adjective)
    return _Catalogue(rows, leaf_items, np.asarray(popularity), np.asarray(log_price_z), brands, adjectives)


def _generate_events(
    rng: np.random.Generator, catalogue: _Catalogue, users: int, language: _Language, progress: bool
) -> tuple[list[dict[str, object]], dict[str, dict[str, float]], dict[str, float]]:
    active = [path for path, members in catalogue.leaf_items.items() if len(members)]
    themes = [[path for path in theme if path in catalogue.leaf_items and len(catalogue.leaf_items[path])]
              for theme in _themes(language)]
    themes = [theme for theme in themes if theme] or [active]
    nouns = {path: noun for _, path, noun, _, _ in _leaves(language.areas)}
    width = len(str(users))
    timed: list[tuple[float, int, dict[str, object]]] = []
    interests: dict[str, dict[str, float]] = {}
    sensitivity: dict[str, float] = {}
    for number in tqdm(range(1, users + 1), desc="users", disable=not progress, file=sys.stderr):
        user_id = f"u{number:0{width}d}"
        chosen_themes = rng.choice(len(themes), size=1 + int(rng.random() < 0.3), replace=False)
        pool = list(dict.fromkeys(path for t in chosen_themes for path in themes[t]))
        leaves = [pool[i] for i in rng.choice(len(pool), size=min(len(pool), int(rng.integers(1, 4))), replace=False)]
        weights = rng.dirichlet(np.full(len(leaves), 2.0))
        interests[user_id] = {leaf: float(w) for leaf, w in zip(leaves, weights)}
        sensitivity[user_id] = float(rng.beta(2.0, 2.0))
        sessions = min(1 + int(rng.pareto(1.6) * 2.0), 60)  # heavy-tailed activity
        for start in np.sort(START + rng.random(sessions) * SPAN_SECONDS):
            leaf = leaves[rng.choice(len(leaves), p=weights)] if rng.random() < 0.92 else str(rng.choice(active))
            for event in _session(rng, catalogue, leaf, nouns[leaf], sensitivity[user_id], language):
                start += float(rng.exponential(45.0)) + 1.0
                timed.append((start, len(timed), {"user_id": user_id, **event}))
    timed.sort(key=lambda entry: entry[:2])  # the shop's log is in time order
    rows = [{"user_id": row["user_id"], "event": row["event"], "timestamp": _iso(time),
             "item_id": row.get("item_id", ""), "query": row.get("query", "")} for time, _, row in timed]
    return rows, interests, sensitivity


def _session(rng: np.random.Generator, catalogue: _Catalogue, leaf: str, noun: str,
             price_sensitivity: float, language: _Language) -> list[dict[str, object]]:
    """One visit: maybe a search, a few views (some via clicks), some carts, fewer purchases."""
    members = catalogue.leaf_items[leaf]
    preference = catalogue.popularity[members] * np.exp(-1.5 * price_sensitivity * catalogue.log_price_z[members])
    events: list[dict[str, object]] = []
    viewed: list[int] = []
    if rng.random() < 0.5:
        query, brand = _query(rng, catalogue, members, leaf, noun, language)
        boosted = preference * np.where([catalogue.brand[i] == brand for i in members], 4.0, 1.0)
        search: dict[str, object] = {"event": "search", "query": query}
        if rng.random() < 0.55:  # clicked a result
            item = int(rng.choice(members, p=boosted / boosted.sum()))
            search["item_id"] = catalogue.rows[item]["item_id"]
            viewed.append(item)
        events.append(search)
        if viewed:
            events.append({"event": "view", "item_id": search["item_id"]})
    for _ in range(int(rng.geometric(0.45))):
        item = int(rng.choice(members, p=preference / preference.sum()))
        item_id = catalogue.rows[item]["item_id"]
        if rng.random() < 0.3:  # arrived from a recommendation or listing click
            events.append({"event": "click", "item_id": item_id})
        events.append({"event": "view", "item_id": item_id})
        viewed.append(item)
    carted = [item for item in dict.fromkeys(viewed) if rng.random() < 0.16]
    events.extend({"event": "add_to_cart", "item_id": catalogue.rows[item]["item_id"]} for item in carted)
    events.extend({"event": "purchase", "item_id": catalogue.rows[item]["item_id"]}
                  for item in carted if rng.random() < 0.55)
    return events


def _query(rng: np.random.Generator, catalogue: _Catalogue, members: np.ndarray, leaf: str,
           noun: str, language: _Language) -> tuple[str, str]:
    """Search text for a leaf: its name, product noun, a brand, an adjective; sometimes
    with a typo or in other case. Returns the text and the brand it names (or "")."""
    item = int(rng.choice(members))
    brand = catalogue.brand[item] if rng.random() < 0.25 else ""
    choices = language.queries(leaf.split(" > "), noun, catalogue.adjective[item])
    text = str(choices[int(rng.integers(len(choices)))])
    if brand:
        text = f"{brand.lower()} {text}"
    if rng.random() < 0.08:
        text = _typo(rng, text)
    variant = rng.random()
    if variant < 0.1:
        text = text.title()
    elif variant < 0.13:
        text = text.upper()
    return text, brand


def _typo(rng: np.random.Generator, text: str) -> str:
    at = int(rng.integers(1, max(len(text) - 1, 2)))
    if rng.random() < 0.5:  # swap two letters
        return text[: at - 1] + text[at] + text[at - 1] + text[at + 1:]
    return text[:at] + text[at + 1:]  # drop a letter


def _iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(int(epoch_seconds), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _generate_social(rng: np.random.Generator, interests: dict[str, dict[str, float]]) -> list[dict[str, object]]:
    """Links with planted homophily: most go to a user who shares one of the user's interests."""
    user_ids = list(interests)
    sharing: dict[str, list[int]] = {}
    for index, user_id in enumerate(user_ids):
        for leaf in interests[user_id]:
            sharing.setdefault(leaf, []).append(index)
    names, shares = list(SOCIAL_RELATIONS), np.asarray(list(SOCIAL_RELATIONS.values()))
    timed: list[tuple[float, dict[str, object]]] = []
    for index, user_id in enumerate(user_ids):
        leaves, weights = list(interests[user_id]), np.asarray(list(interests[user_id].values()))
        for _ in range(int(rng.poisson(SOCIAL_LINKS_PER_USER))):
            if rng.random() < SOCIAL_HOMOPHILY:
                peers = sharing[leaves[rng.choice(len(leaves), p=weights / weights.sum())]]
                other = peers[int(rng.integers(len(peers)))]
            else:
                other = int(rng.integers(len(user_ids)))
            if other == index:
                continue
            relation = names[rng.choice(len(names), p=shares / shares.sum())]
            time = START + float(rng.random()) * SPAN_SECONDS
            timed.append((time, {"user_id": user_id, "other_user_id": user_ids[other], "relation": relation}))
    timed.sort(key=lambda entry: entry[0])
    return [row | {"timestamp": _iso(time)} for time, row in timed]


def _write(out_dir: Path, fmt: str, items: list[dict[str, object]], events: list[dict[str, object]],
           social: list[dict[str, object]] | None = None) -> list[Path]:
    tables = [("items", items, ITEM_COLUMNS), ("events", events, EVENT_COLUMNS)]
    if social is not None:
        tables.append(("social", social, SOCIAL_COLUMNS))
    clashing = [path.name for name, _, _ in tables for ext in TABLE_FORMATS if ext != fmt
                for path in [out_dir / f"{name}.{ext}"] if path.exists()]
    if clashing:
        raise PersonaGraphError(
            f"{out_dir} already holds {', '.join(clashing)}; a data folder keeps one format per table, "
            "so remove those or choose another --out"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rows, columns in tables:
        path = out_dir / f"{name}.{fmt}"
        if fmt == "csv":
            with path.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(columns)
                writer.writerows([_cell(row.get(column)) for column in columns] for row in rows)
        elif fmt == "jsonl":
            with path.open("w", encoding="utf-8") as handle:
                handle.writelines(json.dumps({c: row.get(c) for c in columns}, ensure_ascii=False) + "\n"
                                  for row in rows)
        else:
            table = pa.table({c: [row.get(c) for row in rows] for c in columns})
            pq.write_table(table, path)
        written.append(path)
    return written


def _cell(value: object) -> str:
    if value is None:
        return ""
    return f"{value:.2f}" if isinstance(value, float) else str(value)
