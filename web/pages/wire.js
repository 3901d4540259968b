// The live wire: new entries arrive over the event stream and are added
// on top, when they match the page's filters. textContent keeps source
// text inert; only http(s) links are made.
(function(){
  var list=document.getElementById('wire');
  // A text search is answered by the server's index: a live entry cannot
  // be matched here, so a search result stays as the server sent it.
  if(!window.EventSource||!list||list.dataset.query)return;
  var kind=(list.dataset.kind||'').toLowerCase(), source=(list.dataset.source||'').toLowerCase(), lang=(list.dataset.language||'').toLowerCase();
  function primary(l){return (l||'').toLowerCase().split(/[-_]/)[0]}
  function matches(e){
    var s=e.source||{};
    if(kind&&(s.kind||'').toLowerCase()!==kind)return false;
    if(source&&(s.id||'').toLowerCase()!==source&&(s.code||'').toLowerCase()!==source)return false;
    if(lang&&primary(e.lang)!==primary(lang))return false;
    return true;
  }
  var es=new EventSource('/api/v1/stream?events=entry');
  es.addEventListener('entry',function(ev){
    var e;try{e=JSON.parse(ev.data)}catch(_){return}
    if(!matches(e))return;
    var li=document.createElement('li');
    var t=document.createElement('span');t.className='t';t.textContent=(e.published_at||'').substr(11,5)+'Z';
    var c=document.createElement('span');c.className='c';c.textContent=(e.source&&e.source.code)||'';
    var h=document.createElement('a');h.href='/entries/'+encodeURIComponent(e.id||'');h.textContent=e.headline||'';
    li.appendChild(t);li.appendChild(c);li.appendChild(h);
    if(e.url&&/^https?:\/\//i.test(e.url)){var o=document.createElement('a');o.className='out';o.href=e.url;o.rel='nofollow noopener';o.title='at the source';o.textContent='↗';li.appendChild(o)}
    list.insertBefore(li,list.firstChild);
    var n=document.getElementById('notice');if(n&&!n.dataset.keep)n.remove();
    while(list.children.length>200)list.removeChild(list.lastChild);
  });
})();
