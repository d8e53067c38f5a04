"""Constants of the LwM2M integration."""

from enum import StrEnum
from typing import Final

DOMAIN: Final = "lwm2m"

CONF_HOST: Final = "host"
CONF_PORT: Final = "port"
CONF_MIN_LIFETIME: Final = "min_lifetime"
CONF_MAX_LIFETIME: Final = "max_lifetime"
CONF_AUTO_OBSERVE: Final = "auto_observe"
CONF_XML_DIR: Final = "xml_dir"
CONF_MODE: Final = "mode"
# Write the LwM2M 1.1 communication retry resources (/1/x/17-20) at registration
CONF_COMMUNICATION_RETRY: Final = "communication_retry"
# Fire lwm2m_notification for every notification (off: the recorder would store each one
# beside the state it changes; at 2,000 notifications/s that doubled its work, README).
CONF_NOTIFICATION_EVENTS: Final = "notification_events"

# coaps:// (DTLS 1.2): its UDP port (0 or absent: off) and the server's own certificate and
# key (PEM, made once when DTLS is first on; devices that use certificates pin it). The
# devices' credentials are the entry's device list (subentries, device_list.py).
CONF_DTLS_PORT: Final = "dtls_port"
CONF_SERVER_CERTIFICATE: Final = "server_certificate"
CONF_SERVER_PRIVATE_KEY: Final = "server_private_key"
DEFAULT_DTLS_PORT: Final = 5684
# Who may register (a server entry's option): anyone (open), only devices in the entry's
# device list (known), or those and, for an unknown one, the user's answer to a discovered
# device "... wants to connect" (ask: the default of new entries). Entries from before have none: open.
CONF_ADMISSION: Final = "admission"
ADMISSION_OPEN: Final = "open"
ADMISSION_KNOWN: Final = "known"
ADMISSION_ASK: Final = "ask"
ADMISSION_CHOICES: Final = [ADMISSION_ASK, ADMISSION_KNOWN, ADMISSION_OPEN]

# The bootstrap server (options): its coap:// port (0: off; coaps:// on the next one) and the
# address devices are told to register at; a listed device's key towards it.
CONF_BOOTSTRAP_PORT: Final = "bootstrap_port"
CONF_BOOTSTRAP_HOST: Final = "bootstrap_host"
CONF_BOOTSTRAP_IDENTITY: Final = "bootstrap_identity"
CONF_BOOTSTRAP_KEY: Final = "bootstrap_key"

# A server entry's device list: one config subentry of this type per device (device_list.py),
# and the fields of its form
SUBENTRY_DEVICE: Final = "device"
# A firmware image for one device or one model (config subentry "firmware"): the image itself
# is a file under .storage/lwm2m_firmware named by its SHA-256.
SUBENTRY_FIRMWARE: Final = "firmware"
CONF_FIRMWARE_FILE: Final = "file"
CONF_FIRMWARE_URL: Final = "url"
CONF_FIRMWARE_VERSION: Final = "version"
CONF_RELEASE_NOTES: Final = "release_notes"
CONF_FIRMWARE_TARGET: Final = "target"  # "device:<endpoint>" or "model:<manufacturer>\n<model>"
CONF_SHA256: Final = "sha256"
CONF_SIZE: Final = "size"
CONF_FILE_NAME: Final = "file_name"
CONF_ENDPOINT: Final = "endpoint"
CONF_SECURITY_MODE: Final = "security_mode"
CONF_PSK_IDENTITY: Final = "psk_identity"
CONF_PSK_KEY: Final = "psk_key"
CONF_PSK_KEY_FORMAT: Final = "psk_key_format"  # how the key is written: hex digits, or text (its UTF-8 bytes)
KEY_HEX: Final = "hex"
KEY_TEXT: Final = "text"
CONF_CERTIFICATE: Final = "certificate"

MODE_SERVER: Final = "server"  # an LwM2M server in Home Assistant, devices on UDP
MODE_EMQX: Final = "emqx"  # devices of an external EMQX LwM2M gateway, over MQTT

AUTO_OBSERVE_ENTITIES: Final = "entities"  # observe what the entities show
AUTO_OBSERVE_ALL: Final = "all"  # observe every announced object instance
AUTO_OBSERVE_NONE: Final = "none"  # read once after registration
AUTO_OBSERVE_CHOICES: Final = [AUTO_OBSERVE_ENTITIES, AUTO_OBSERVE_ALL, AUTO_OBSERVE_NONE]

DEFAULT_HOST: Final = "0.0.0.0"
DEFAULT_PORT: Final = 5683
DEFAULT_MIN_LIFETIME: Final = 10
DEFAULT_MAX_LIFETIME: Final = 86400  # EMQX's lifetime_max example

# Limits of the built-in server (options; 0 is no limit). README "Limits and defences".
CONF_MAX_REGISTRATIONS_PER_HOST: Final = "max_registrations_per_host"
CONF_REGISTRATION_RATE: Final = "registration_rate"
CONF_NOTIFICATION_RATE: Final = "notification_rate"
DEFAULT_MAX_REGISTRATIONS_PER_HOST: Final = 100
DEFAULT_REGISTRATION_RATE: Final = 1000
DEFAULT_NOTIFICATION_RATE: Final = 10

STORAGE_VERSION: Final = 1
SIGNAL_NEW_ENTITIES: Final = f"{DOMAIN}_new_entities_{{entry_id}}_{{platform}}"
SIGNAL_FIRMWARE_CHOSEN: Final = f"{DOMAIN}_firmware_chosen_{{entry_id}}"  # the entry's firmware images changed

CONF_MQTT_BRIDGE: Final = "mqtt_bridge"
CONF_MQTT_MOUNTPOINT: Final = "mqtt_mountpoint"
CONF_MQTT_UPDATE_CONDITION: Final = "mqtt_update_msg_publish_condition"
MQTT_TRANSLATORS: Final = ("command", "response", "notify", "register", "update")
MQTT_TOPIC_DEFAULTS: Final = {
    "command": "dn/#",
    "response": "up/resp",
    "notify": "up/notify",
    "register": "up/resp",
    "update": "up/update",
}
MQTT_UPDATE_CONDITIONS: Final = ["contains_object_list", "always"]


class Topic(StrEnum):
    """What else than a resource's value an entity can subscribe to, per endpoint, in the hub."""

    AVAILABILITY = "availability"  # the device came or went: callback(available)
    REGISTRATION = "registration"  # registered, updated, de-registered, expired, sent: callback(event)
    MESSAGE = "message"  # every event of the device, for traffic counters: callback(event)
    SEND = "send"  # the device pushed values with Send: callback(event)
    FIRMWARE = "firmware"  # a step of the device's firmware update: callback(FirmwareInfo)
