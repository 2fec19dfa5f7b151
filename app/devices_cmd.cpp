#include "devices_cmd.hpp"

#include <cstdlib>
#include <iostream>
#include <memory>

#include <spdlog/spdlog.h>

#include "asfcast/capture/devices.hpp"

namespace asfcast::app {

int list_devices(bool json) {
    try {
        std::unique_ptr<capture::DeviceBackend> backend;
        if (const char* rec = std::getenv("ASFCAST_DEVICES_RECORDING"); rec && *rec)
            backend = std::make_unique<capture::RecordedDevices>(capture::RecordedDevices::load(rec));
        else
            backend = std::make_unique<capture::SystemDevices>();
        capture::DeviceLists lists{backend->list_video(), backend->list_audio()};
        std::cout << (json ? capture::devices_json(lists) + "\n" : capture::devices_table(lists));
        return 0;
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
}

}  // namespace asfcast::app
