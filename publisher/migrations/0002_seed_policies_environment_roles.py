"""Seed what every installation has: WSO2's default rate-limit plans, the Default
gateway environment and the three roles."""

from django.conf import settings
from django.db import migrations

# (level, name, description, limit, time_unit, unit_time, limit_type, streaming)
POLICIES = [
    ("subscription", "AsyncGold", "Allows 50000 events per day", 50000, "day", 1, "EVENTCOUNTLIMIT", True),
    ("subscription", "AsyncSilver", "Allows 25000 events per day", 25000, "day", 1, "EVENTCOUNTLIMIT", True),
    ("subscription", "AsyncBronze", "Allows 5000 events per day", 5000, "day", 1, "EVENTCOUNTLIMIT", True),
    ("subscription", "AsyncUnlimited", "Allows unlimited events", 0, "min", 1, "EVENTCOUNTLIMIT", True),
    ("application", "10PerMin", "Allows 10 events per minute", 10, "min", 1, "EVENTCOUNTLIMIT", False),
    ("application", "20PerMin", "Allows 20 events per minute", 20, "min", 1, "EVENTCOUNTLIMIT", False),
    ("application", "50PerMin", "Allows 50 events per minute", 50, "min", 1, "EVENTCOUNTLIMIT", False),
    ("application", "Unlimited", "Allows unlimited events", 0, "min", 1, "EVENTCOUNTLIMIT", False),
    ("advanced", "10KPerMin", "Allows 10000 events per minute", 10000, "min", 1, "EVENTCOUNTLIMIT", False),
    ("advanced", "20KPerMin", "Allows 20000 events per minute", 20000, "min", 1, "EVENTCOUNTLIMIT", False),
    ("advanced", "50KPerMin", "Allows 50000 events per minute", 50000, "min", 1, "EVENTCOUNTLIMIT", False),
    ("advanced", "Unlimited", "Allows unlimited events", 0, "min", 1, "EVENTCOUNTLIMIT", False),
]

ROLES = ("creator", "publisher", "admin")


def seed(apps, schema_editor):
    Policy = apps.get_model("publisher", "ThrottlingPolicy")
    Environment = apps.get_model("publisher", "Environment")
    Group = apps.get_model("auth", "Group")
    for level, name, description, limit, time_unit, unit_time, limit_type, streaming in POLICIES:
        Policy.objects.get_or_create(
            level=level, name=name,
            defaults=dict(display_name=name, description=description, limit=limit, time_unit=time_unit,
                          unit_time=unit_time, limit_type=limit_type, is_streaming=streaming),
        )
    conf = settings.TIDEGATE
    Environment.objects.get_or_create(
        name="Default",
        defaults=dict(display_name="Default", vhost=conf["GATEWAY_VHOST"], ws_port=conf["GATEWAY_WS_PORT"],
                      wss_port=conf["GATEWAY_WSS_PORT"]),
    )
    for role in ROLES:
        Group.objects.get_or_create(name=role)


class Migration(migrations.Migration):
    dependencies = [("publisher", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
