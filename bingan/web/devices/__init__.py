"""Collection devices (单机采集): registration pages and API, and their collection logs."""
