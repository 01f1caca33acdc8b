// The desktop's bridge: Python drives the map over QWebChannel (ui/map_view.py's MapBridge).
"use strict";

new QWebChannel(qt.webChannelTransport, (channel) => {
  const bridge = channel.objects.bridge;
  bridge.devicesChanged.connect(zerostreamMap.showDevices);
  bridge.trackChanged.connect(zerostreamMap.showTrack);
  bridge.selectionChanged.connect(zerostreamMap.selectDevice);
  bridge.marksChanged.connect(zerostreamMap.showMarks);
  zerostreamMap.connect(bridge);
});
