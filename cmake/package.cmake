# The Debian package (cpack -G DEB in the build folder): the asfcast command (stripped), the
# service template, its user and folders, the documentation and example presets. Library
# dependencies come from dpkg-shlibdeps; GStreamer's plug-ins are loaded at run time, so the
# packages that hold the ones asfcast uses are named here.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME asfcast)
set(CPACK_PACKAGE_VENDOR "asfcast")
set(CPACK_PACKAGE_CONTACT "asfcast maintainers <maintainers@asfcast.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "live encoder and broadcast appliance for Windows Media servers and players")
set(CPACK_PACKAGE_DESCRIPTION "Captures from cameras, capture cards, sound cards, files and test patterns, encodes H.264 or WMV2 and WMA2 or MP3, muxes ASF and delivers it over MS-WMSP (pull), MS-WMHTTP (push), MS-MSB (multicast) and MS-MSBD, and archives indexed .wmv files.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES TRUE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION video)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "systemd, gstreamer1.0-plugins-base, gstreamer1.0-plugins-good, gstreamer1.0-plugins-bad, gstreamer1.0-libav, gstreamer1.0-alsa, gstreamer1.0-x, fonts-dejavu-core")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${PROJECT_SOURCE_DIR}/systemd/debian/postinst;${PROJECT_SOURCE_DIR}/systemd/debian/prerm;${PROJECT_SOURCE_DIR}/systemd/debian/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
