"""When a category permission template opens its categories: days, hours of the day, terminal group (分级访问)."""
from __future__ import annotations

import re
from datetime import date, datetime, time

from bingan.access.addresses import Address, parse_network

HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


def parse_hours(text: str) -> tuple[time, time] | None:
    """"08:00-18:00" → (08:00, 18:00); "" → None (all day). A window may pass midnight
    ("20:00-08:00", the night shift); start and end equal, or anything else, is refused."""
    if not text:
        return None
    found = HOURS.match(text.strip())
    if found is None:
        raise ValueError(f"时段“{text}”格式应为 HH:MM-HH:MM，例如 08:00-18:00")
    start_h, start_m, end_h, end_m = (int(part) for part in found.groups())
    if end_h == 24 and end_m:
        raise ValueError(f"时段“{text}”的结束时间无效")
    start, end = time(start_h, start_m), time(0, 0) if end_h == 24 else time(end_h, end_m)
    if start == end:
        raise ValueError(f"时段“{text}”的开始与结束相同；全天开放请留空")
    return start, end


def within_hours(hours: str, moment: datetime) -> bool:
    window = parse_hours(hours)
    if window is None:
        return True
    start, end, now = *window, moment.time().replace(tzinfo=None)
    if start < end:
        return start <= now < end
    return now >= start or now < end  # passes midnight (end 00:00 = 24:00)


def is_open(valid_from: date | None, valid_until: date | None, hours: str, terminals: str,
            moment: datetime, address: Address | None) -> bool:
    """Does a template with these limits open its categories at ``moment`` (the hospital's local
    time) to a client at ``address``? An unreadable or unknown address is outside every group."""
    day = moment.date()
    if (valid_from and day < valid_from) or (valid_until and day > valid_until):
        return False
    if terminals and (address is None or address not in parse_network(terminals)):
        return False
    return within_hours(hours, moment)
