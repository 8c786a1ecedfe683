"""Plausible Chinese names, and the two ways a name goes wrong between records.

Surname weights follow the rough national frequency order; given names are one or two
characters from pools that differ by sex. Homophone groups share a pinyin reading (the
commonest confusion when a name is typed from speech); a typo swaps in any other character.
"""

from __future__ import annotations

import random

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
# Zipf-like weights: the first surnames (王, 李, 张 ...) are far commoner than the last.
SURNAME_WEIGHTS = tuple(1.0 / (i + 4) for i in range(len(SURNAMES)))

MALE_CHARS = "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆旭宁龙林阳建国志峰晨轩博睿子梓然文诚泽航毅"
FEMALE_CHARS = "芳娜敏静丽艳娟霞秀玲英婷雪慧颖琳晶欣怡佳思涵萱雨琪诺悦梦瑶婧倩露洁燕红萍玉蕾菲"

HOMOPHONES = (
    "伟玮炜韦", "静婧靖菁", "丽莉俐利", "华桦骅", "明鸣铭", "军君钧", "玲灵凌伶", "琳林霖", "杰洁婕捷",
    "涛韬滔", "芳方舫", "勇永咏", "敏闵珉", "磊蕾垒", "阳洋杨扬", "艳燕雁彦", "刚钢纲", "平萍苹屏",
    "辉晖徽", "鹏朋彭", "红宏鸿虹洪", "峰锋丰枫", "婷亭庭", "欣新鑫馨心", "宇雨语羽", "浩昊皓颢",
    "子梓紫", "轩萱宣璇", "涵晗寒韩", "怡宜仪依", "晨辰宸琛", "佳嘉家", "思丝斯", "睿瑞锐", "博波柏",
    "文雯闻", "霞夏", "建剑健", "志智致", "琪琦奇淇", "飞菲非", "凯楷恺", "帆凡繁", "慧惠蕙",
)
_HOMOPHONE_OF = {c: g for g in HOMOPHONES for c in g}


def surname(rng: random.Random) -> str:
    pick = getattr(rng, "pick", None)  # the generator's FastRandom: the same draw without a list
    return pick(SURNAMES, SURNAME_WEIGHTS) if pick else rng.choices(SURNAMES, weights=SURNAME_WEIGHTS)[0]


def given_name(rng: random.Random, sex: str) -> str:
    pool = MALE_CHARS if sex == "1" else FEMALE_CHARS
    if rng.random() < 0.3:
        return rng.choice(pool)
    first = rng.choice(pool)  # drawn in this order: the first character first
    return first + rng.choice(pool)


def full_name(rng: random.Random, sex: str, family_name: str | None = None) -> str:
    return (family_name or surname(rng)) + given_name(rng, sex)


def homophone(rng: random.Random, name: str) -> str:
    """The same name written with a same-sounding character, or the name unchanged if none fits."""
    spots = [i for i in range(1, len(name)) if name[i] in _HOMOPHONE_OF]
    if not spots:
        return name
    i = rng.choice(spots)
    alternatives = [c for c in _HOMOPHONE_OF[name[i]] if c != name[i]]
    return name[:i] + rng.choice(alternatives) + name[i + 1 :]


def typo(rng: random.Random, name: str) -> str:
    """One given-name character replaced by another (a keying error)."""
    i = rng.randrange(1, len(name)) if len(name) > 1 else 0
    pool = MALE_CHARS + FEMALE_CHARS
    c = rng.choice(pool)
    while c == name[i]:
        c = rng.choice(pool)
    return name[:i] + c + name[i + 1 :]
