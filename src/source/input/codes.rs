//! Name tables for evdev event types and codes, from linux/input-event-codes.h. Keys and
//! buttons are in `keys`. Every table is sorted by code, for binary search.

use super::keys::KEYS;

pub const EV_SYN: u16 = 0x00;
pub const EV_KEY: u16 = 0x01;
pub const EV_REL: u16 = 0x02;
pub const EV_ABS: u16 = 0x03;
pub const EV_MSC: u16 = 0x04;
pub const EV_SW: u16 = 0x05;
pub const EV_LED: u16 = 0x11;
pub const EV_SND: u16 = 0x12;
pub const EV_REP: u16 = 0x14;
pub const EV_FF: u16 = 0x15;
pub const EV_PWR: u16 = 0x16;
pub const EV_FF_STATUS: u16 = 0x17;

pub const SYN_REPORT: u16 = 0;
pub const SYN_CONFIG: u16 = 1;
pub const SYN_MT_REPORT: u16 = 2;
pub const SYN_DROPPED: u16 = 3;

pub const MSC_SCAN: u16 = 0x04;

/// `EV_SYN` codes.
pub const SYN: &[(u16, &str)] = &[
    (0x000, "SYN_REPORT"),
    (0x001, "SYN_CONFIG"),
    (0x002, "SYN_MT_REPORT"),
    (0x003, "SYN_DROPPED"),
];
/// `EV_REL` codes: relative axes.
pub const REL: &[(u16, &str)] = &[
    (0x000, "REL_X"),
    (0x001, "REL_Y"),
    (0x002, "REL_Z"),
    (0x003, "REL_RX"),
    (0x004, "REL_RY"),
    (0x005, "REL_RZ"),
    (0x006, "REL_HWHEEL"),
    (0x007, "REL_DIAL"),
    (0x008, "REL_WHEEL"),
    (0x009, "REL_MISC"),
    (0x00a, "REL_RESERVED"),
    (0x00b, "REL_WHEEL_HI_RES"),
    (0x00c, "REL_HWHEEL_HI_RES"),
];
/// `EV_ABS` codes: absolute axes, multi-touch included.
pub const ABS: &[(u16, &str)] = &[
    (0x000, "ABS_X"),
    (0x001, "ABS_Y"),
    (0x002, "ABS_Z"),
    (0x003, "ABS_RX"),
    (0x004, "ABS_RY"),
    (0x005, "ABS_RZ"),
    (0x006, "ABS_THROTTLE"),
    (0x007, "ABS_RUDDER"),
    (0x008, "ABS_WHEEL"),
    (0x009, "ABS_GAS"),
    (0x00a, "ABS_BRAKE"),
    (0x010, "ABS_HAT0X"),
    (0x011, "ABS_HAT0Y"),
    (0x012, "ABS_HAT1X"),
    (0x013, "ABS_HAT1Y"),
    (0x014, "ABS_HAT2X"),
    (0x015, "ABS_HAT2Y"),
    (0x016, "ABS_HAT3X"),
    (0x017, "ABS_HAT3Y"),
    (0x018, "ABS_PRESSURE"),
    (0x019, "ABS_DISTANCE"),
    (0x01a, "ABS_TILT_X"),
    (0x01b, "ABS_TILT_Y"),
    (0x01c, "ABS_TOOL_WIDTH"),
    (0x020, "ABS_VOLUME"),
    (0x021, "ABS_PROFILE"),
    (0x028, "ABS_MISC"),
    (0x02e, "ABS_RESERVED"),
    (0x02f, "ABS_MT_SLOT"),
    (0x030, "ABS_MT_TOUCH_MAJOR"),
    (0x031, "ABS_MT_TOUCH_MINOR"),
    (0x032, "ABS_MT_WIDTH_MAJOR"),
    (0x033, "ABS_MT_WIDTH_MINOR"),
    (0x034, "ABS_MT_ORIENTATION"),
    (0x035, "ABS_MT_POSITION_X"),
    (0x036, "ABS_MT_POSITION_Y"),
    (0x037, "ABS_MT_TOOL_TYPE"),
    (0x038, "ABS_MT_BLOB_ID"),
    (0x039, "ABS_MT_TRACKING_ID"),
    (0x03a, "ABS_MT_PRESSURE"),
    (0x03b, "ABS_MT_DISTANCE"),
    (0x03c, "ABS_MT_TOOL_X"),
    (0x03d, "ABS_MT_TOOL_Y"),
];
/// `EV_SW` codes: switches.
pub const SW: &[(u16, &str)] = &[
    (0x000, "SW_LID"),
    (0x001, "SW_TABLET_MODE"),
    (0x002, "SW_HEADPHONE_INSERT"),
    (0x003, "SW_RFKILL_ALL"),
    (0x004, "SW_MICROPHONE_INSERT"),
    (0x005, "SW_DOCK"),
    (0x006, "SW_LINEOUT_INSERT"),
    (0x007, "SW_JACK_PHYSICAL_INSERT"),
    (0x008, "SW_VIDEOOUT_INSERT"),
    (0x009, "SW_CAMERA_LENS_COVER"),
    (0x00a, "SW_KEYPAD_SLIDE"),
    (0x00b, "SW_FRONT_PROXIMITY"),
    (0x00c, "SW_ROTATE_LOCK"),
    (0x00d, "SW_LINEIN_INSERT"),
    (0x00e, "SW_MUTE_DEVICE"),
    (0x00f, "SW_PEN_INSERTED"),
    (0x010, "SW_MACHINE_COVER"),
];
/// `EV_MSC` codes.
pub const MSC: &[(u16, &str)] = &[
    (0x000, "MSC_SERIAL"),
    (0x001, "MSC_PULSELED"),
    (0x002, "MSC_GESTURE"),
    (0x003, "MSC_RAW"),
    (0x004, "MSC_SCAN"),
    (0x005, "MSC_TIMESTAMP"),
];
/// `EV_LED` codes.
pub const LED: &[(u16, &str)] = &[
    (0x000, "LED_NUML"),
    (0x001, "LED_CAPSL"),
    (0x002, "LED_SCROLLL"),
    (0x003, "LED_COMPOSE"),
    (0x004, "LED_KANA"),
    (0x005, "LED_SLEEP"),
    (0x006, "LED_SUSPEND"),
    (0x007, "LED_MUTE"),
    (0x008, "LED_MISC"),
    (0x009, "LED_MAIL"),
    (0x00a, "LED_CHARGING"),
];
/// `EV_REP` codes: autorepeat settings.
pub const REP: &[(u16, &str)] = &[(0x000, "REP_DELAY"), (0x001, "REP_PERIOD")];
/// `EV_SND` codes.
pub const SND: &[(u16, &str)] = &[
    (0x000, "SND_CLICK"),
    (0x001, "SND_BELL"),
    (0x002, "SND_TONE"),
];
/// Event types (`input_event.type`).
pub const EV: &[(u16, &str)] = &[
    (0x000, "EV_SYN"),
    (0x001, "EV_KEY"),
    (0x002, "EV_REL"),
    (0x003, "EV_ABS"),
    (0x004, "EV_MSC"),
    (0x005, "EV_SW"),
    (0x011, "EV_LED"),
    (0x012, "EV_SND"),
    (0x014, "EV_REP"),
    (0x015, "EV_FF"),
    (0x016, "EV_PWR"),
    (0x017, "EV_FF_STATUS"),
];

fn lookup(table: &[(u16, &'static str)], code: u16) -> Option<&'static str> {
    table
        .binary_search_by_key(&code, |&(c, _)| c)
        .ok()
        .map(|i| table[i].1)
}

/// `EV_KEY`, `EV_REL`, ... for an event type.
pub fn type_name(ev_type: u16) -> Option<&'static str> {
    lookup(EV, ev_type)
}

/// The code table of an event type, and the prefix of its names.
fn table(ev_type: u16) -> Option<(&'static [(u16, &'static str)], &'static str)> {
    Some(match ev_type {
        EV_SYN => (SYN, "SYN"),
        EV_KEY => (KEYS, "KEY"),
        EV_REL => (REL, "REL"),
        EV_ABS => (ABS, "ABS"),
        EV_MSC => (MSC, "MSC"),
        EV_SW => (SW, "SW"),
        EV_LED => (LED, "LED"),
        EV_SND => (SND, "SND"),
        EV_REP => (REP, "REP"),
        _ => return None,
    })
}

/// The kernel's name for `code` of `ev_type` (`KEY_A`, `BTN_LEFT`, `REL_X`, `ABS_MT_SLOT`).
pub fn code_name(ev_type: u16, code: u16) -> Option<&'static str> {
    table(ev_type).and_then(|(t, _)| lookup(t, code))
}

/// A name for any code: the kernel's, or `PREFIX_0xNNN` for codes newer than these tables
/// (`REL_0x00f`), or `EV_0x1e:0x005` for unknown event types.
pub fn code_label(ev_type: u16, code: u16) -> String {
    match (table(ev_type), code_name(ev_type, code)) {
        (_, Some(n)) => n.to_string(),
        (Some((_, prefix)), None) => format!("{prefix}_{code:#05x}"),
        (None, None) => match type_name(ev_type) {
            Some(t) => format!("{t}:{code:#05x}"),
            None => format!("EV_{ev_type:#04x}:{code:#05x}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_and_unique_so_binary_search_works() {
        for t in [KEYS, SYN, REL, ABS, SW, MSC, LED, REP, SND, EV] {
            assert!(t.windows(2).all(|w| w[0].0 < w[1].0), "{:?}", t[0]);
        }
    }

    #[test]
    fn well_known_codes_have_the_kernel_names() {
        let cases = [
            (EV_KEY, 1, "KEY_ESC"),
            (EV_KEY, 30, "KEY_A"),
            (EV_KEY, 57, "KEY_SPACE"),
            (EV_KEY, 0x100, "BTN_0"),
            (EV_KEY, 0x110, "BTN_LEFT"),
            (EV_KEY, 0x111, "BTN_RIGHT"),
            (EV_KEY, 0x130, "BTN_SOUTH"),
            (EV_KEY, 0x14a, "BTN_TOUCH"),
            (EV_KEY, 0x2c0, "BTN_TRIGGER_HAPPY1"),
            (EV_KEY, 0x2e7, "BTN_TRIGGER_HAPPY40"),
            (EV_KEY, 0x24f, "KEY_DO_NOT_DISTURB"),
            (EV_REL, 0, "REL_X"),
            (EV_REL, 1, "REL_Y"),
            (EV_REL, 8, "REL_WHEEL"),
            (EV_REL, 0x0b, "REL_WHEEL_HI_RES"),
            (EV_ABS, 0, "ABS_X"),
            (EV_ABS, 1, "ABS_Y"),
            (EV_ABS, 0x2f, "ABS_MT_SLOT"),
            (EV_ABS, 0x39, "ABS_MT_TRACKING_ID"),
            (EV_SW, 0, "SW_LID"),
            (EV_SW, 0x10, "SW_MACHINE_COVER"),
            (EV_MSC, 4, "MSC_SCAN"),
            (EV_MSC, 5, "MSC_TIMESTAMP"),
            (EV_LED, 1, "LED_CAPSL"),
            (EV_SYN, 0, "SYN_REPORT"),
            (EV_SYN, 3, "SYN_DROPPED"),
            (EV_REP, 1, "REP_PERIOD"),
            (EV_SND, 1, "SND_BELL"),
        ];
        for (t, c, want) in cases {
            assert_eq!(code_name(t, c), Some(want), "{t}:{c}");
        }
        assert_eq!(type_name(EV_FF_STATUS), Some("EV_FF_STATUS"));
        // KEY_MAX is not a key; 0x2ff has no name.
        assert_eq!(code_name(EV_KEY, 0x2ff), None);
        assert!(!KEYS
            .iter()
            .any(|(_, n)| n.ends_with("_MAX") || *n == "BTN_MISC"));
        assert_eq!(code_label(EV_REL, 0x0f), "REL_0x00f");
        assert_eq!(code_label(EV_FF, 3), "EV_FF:0x003");
        assert_eq!(code_label(0x1e, 3), "EV_0x1e:0x003");
    }
}
